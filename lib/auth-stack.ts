// The Cognito user pool and its Post Confirmation function, in one stack: a trigger whose function lives in
// another stack makes the two stacks depend on each other.
import { CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import { permanentFailureAlarm, projectAlarm } from './constructs/alarms';
import type { IamDatabase } from './constructs/database-client';
import { AuditTrail } from './constructs/audit-trail';
import { ProjectFunction } from './constructs/project-function';
import { Reconcile } from './constructs/reconcile';
import { SignupFallback } from './constructs/signup-fallback';
import { UserEvents } from './constructs/user-events';
import { DATABASE_USERS, type StageSettings } from './stage';

export interface AuthStackProps extends StackProps {
  readonly settings: StageSettings;
  readonly vpc: ec2.IVpc;
  /** The functions that read or write public.users are bound to it as clients. */
  readonly database: IamDatabase;
  /**
   * The database user the post-confirmation function logs in as (sql/migrations/0002_signup_writer_role.sql);
   * the other functions log in as their own roles (DATABASE_USERS in lib/stage.ts).
   */
  readonly databaseUser: string;
  /** The SQS interface endpoint the post-confirmation function reaches the fallback queue through. */
  readonly sqsEndpoint: ec2.IInterfaceVpcEndpoint;
  /** The stage's alerts topic (lib/constructs/alerts.ts): every alarm of the stack notifies it. */
  readonly alarmAction: cloudwatch.IAlarmAction;
}

export class AuthStack extends Stack {
  public readonly userPool: cognito.UserPool;
  public readonly userPoolClient: cognito.UserPoolClient;
  public readonly postConfirmationFunction: ProjectFunction;
  /** Refuses a malformed or taken handle before the account exists (lambdas/pre-sign-up). */
  public readonly preSignUpFunction: ProjectFunction;
  /** The sync queue and the one writer: sign-ups the database could not take, and every lifecycle change. */
  public readonly signupFallback: SignupFallback;
  /** The event path: CloudTrail's user calls of this pool to the writer's queue. */
  public readonly userEvents: UserEvents;
  /** The scheduled, resumable reconcile: the safety net for what events miss. */
  public readonly reconcile: Reconcile;
  /** The management-event trail the event path needs; absent with `-c existingTrail=true`. */
  public readonly auditTrail?: AuditTrail;
  public readonly errorsAlarm: cloudwatch.Alarm;
  public readonly throttlesAlarm: cloudwatch.Alarm;
  public readonly preSignUpErrorsAlarm: cloudwatch.Alarm;
  /** PreSignUp has reserved concurrency now: a throttle refuses a sign-up. */
  public readonly preSignUpThrottlesAlarm: cloudwatch.Alarm;
  public readonly replayErrorsAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: AuthStackProps) {
    super(scope, id, props);
    const { settings, database } = props;

    // The construct id is stable: `sam local invoke PostConfirmationFunction` and the runbooks name it.
    this.postConfirmationFunction = new ProjectFunction(this, 'PostConfirmationFunction', {
      entry: 'lambdas/post-confirmation/index.ts',
      description: 'Cognito Post Confirmation: upserts the confirmed user into public.users',
      vpc: props.vpc,
      // Cognito waits 5 s for a trigger; the code's own budget is 3 s (lambdas/postgres/connection.ts).
      timeout: Duration.seconds(5),
      logRetention: settings.logRetention,
      reservedConcurrentExecutions: settings.reservedConcurrency,
    });
    const fn = this.postConfirmationFunction;
    database.bindClient(fn, { user: props.databaseUser, description: 'post-confirmation to PostgreSQL' });

    this.signupFallback = new SignupFallback(this, 'SignupFallback', {
      vpc: props.vpc,
      sqsEndpoint: props.sqsEndpoint,
      producer: fn,
      database,
      databaseUser: DATABASE_USERS.replay,
      erasure: settings.lifecycle.erasure,
      logRetention: settings.logRetention,
      removalPolicy: settings.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      alarmAction: props.alarmAction,
    });

    // Its own role, handle_checker: it can only learn whether a handle is taken (sync.handle_taken).
    this.preSignUpFunction = new ProjectFunction(this, 'PreSignUpFunction', {
      entry: 'lambdas/pre-sign-up/index.ts',
      description: 'Cognito PreSignUp: refuses a malformed or already-taken handle before the account exists',
      vpc: props.vpc,
      timeout: Duration.seconds(5),
      logRetention: settings.logRetention,
      // Unauthenticated callers reach it: its connections are bounded like everyone's (lib/stage.ts).
      reservedConcurrentExecutions: settings.preSignUpConcurrency,
    });
    database.bindClient(this.preSignUpFunction, {
      user: DATABASE_USERS.preSignUp,
      description: 'pre-sign-up to PostgreSQL',
    });

    this.userPool = new cognito.UserPool(this, 'UserPool', {
      selfSignUpEnabled: true,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      autoVerify: { email: true },
      keepOriginal: { email: true },
      standardAttributes: {
        email: { required: true, mutable: true },
        fullname: { required: true, mutable: true },
        preferredUsername: { required: true, mutable: true },
      },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      mfa: cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      featurePlan: settings.threatProtection ? cognito.FeaturePlan.PLUS : cognito.FeaturePlan.ESSENTIALS,
      ...(settings.threatProtection
        ? { standardThreatProtectionMode: cognito.StandardThreatProtectionMode.FULL_FUNCTION }
        : {}),
      deletionProtection: settings.deletionProtection,
      // The pool holds the users' passwords: prod keeps it when the stack goes.
      removalPolicy: settings.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      lambdaTriggers: { postConfirmation: fn, preSignUp: this.preSignUpFunction },
    });
    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG2',
      reason:
        'MFA is optional (TOTP) for a public social sign-up; requiring it would block the sign-up flow this app serves.',
    });
    if (!settings.threatProtection) {
      Validations.of(this.userPool).acknowledge({
        id: 'AwsSolutions-COG8',
        reason: 'Dev uses the Essentials tier; prod uses Plus with threat protection enforced (lib/stage.ts).',
      });
      Validations.of(this.userPool).acknowledge({
        id: 'AwsSolutions-COG3',
        reason: 'Dev uses the Essentials tier; prod enforces threat protection (lib/stage.ts).',
      });
    }

    // What the app may write: the three attributes sign-up requires (Cognito refuses a client that cannot write
    // a required attribute), so preferred_username stays changeable; a change reaches public.users only through
    // the lifecycle sync's handle rule. email_verified, phone and the rest stay out of the app's reach.
    const writable = { email: true, fullname: true, preferredUsername: true };
    this.userPoolClient = this.userPool.addClient('AppClient', {
      authFlows: { userSrp: true },
      generateSecret: false,
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      // OAuth off until the pool has a domain: CDK's defaults would allow the implicit flow, every scope
      // (aws.cognito.signin.user.admin included) and an https://example.com callback.
      disableOAuth: true,
      readAttributes: new cognito.ClientAttributes().withStandardAttributes({ ...writable, emailVerified: true }),
      writeAttributes: new cognito.ClientAttributes().withStandardAttributes(writable),
    });

    this.errorsAlarm = projectAlarm(this, 'PostConfirmationErrors', {
      description: 'The post-confirmation function failed: a confirmed user may be missing from public.users',
      metric: fn.metricErrors({ statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      action: props.alarmAction,
    });

    // Throttled means the reserved concurrency is exhausted: Cognito gets an error and the row is not written.
    this.throttlesAlarm = projectAlarm(this, 'PostConfirmationThrottles', {
      description: 'The post-confirmation function was throttled at its reserved concurrency: sign-ups failed',
      metric: fn.metricThrottles({ statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      action: props.alarmAction,
    });
    permanentFailureAlarm(this, 'PostConfirmationPermanentFailures', {
      fn,
      functionLabel: 'post-confirmation',
      action: props.alarmAction,
    });

    // A failing PreSignUp refuses every sign-up before the account exists: nothing is queued, people just leave.
    this.preSignUpErrorsAlarm = projectAlarm(this, 'PreSignUpErrors', {
      description: 'The PreSignUp function failed: sign-ups are being refused before the account exists',
      metric: this.preSignUpFunction.metricErrors({ statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      action: props.alarmAction,
    });
    // With reserved concurrency (its connections count in lib/stage.ts), a burst past it is throttled, and a
    // throttled PreSignUp refuses the sign-up: someone must hear it and raise the concurrency.
    this.preSignUpThrottlesAlarm = projectAlarm(this, 'PreSignUpThrottles', {
      description: 'The PreSignUp function was throttled at its reserved concurrency: sign-ups were refused',
      metric: this.preSignUpFunction.metricThrottles({ statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      action: props.alarmAction,
    });
    permanentFailureAlarm(this, 'PreSignUpPermanentFailures', {
      fn: this.preSignUpFunction,
      functionLabel: 'PreSignUp',
      action: props.alarmAction,
    });

    // The writer's own alarms (the queue's are in SignupFallback): an invocation that fails as a whole, not a
    // record it reports back (those reach the dead-letter alarm), and a database it can never use.
    const replay = this.signupFallback.replayFunction;
    this.replayErrorsAlarm = projectAlarm(this, 'ReplayErrors', {
      description: 'The replay function failed: queued sign-ups and user changes are not being written to public.users',
      metric: replay.metricErrors({ statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      action: props.alarmAction,
    });
    permanentFailureAlarm(this, 'ReplayPermanentFailures', {
      fn: replay,
      functionLabel: 'replay',
      action: props.alarmAction,
    });

    new CfnOutput(this, 'UserPoolId', { value: this.userPool.userPoolId });
    new CfnOutput(this, 'UserPoolClientId', { value: this.userPoolClient.userPoolClientId });
    new CfnOutput(this, 'PostConfirmationFunctionName', { value: fn.functionName });

    // The user lifecycle sync: events when CloudTrail delivers them, the reconcile when it does not.
    const lifecycleRemoval = settings.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    if (!settings.lifecycle.existingTrail)
      this.auditTrail = new AuditTrail(this, 'AuditTrail', { retention: settings.auditLogRetention });
    this.userEvents = new UserEvents(this, 'UserEvents', {
      userPool: this.userPool,
      syncQueue: this.signupFallback,
      logRetention: settings.logRetention,
      removalPolicy: lifecycleRemoval,
      alarmAction: props.alarmAction,
    });
    this.reconcile = new Reconcile(this, 'Reconcile', {
      vpc: props.vpc,
      userPool: this.userPool,
      database,
      databaseUser: DATABASE_USERS.reconcile,
      settings: settings.lifecycle,
      logRetention: settings.logRetention,
      alarmAction: props.alarmAction,
    });
    permanentFailureAlarm(this, 'ReconcilePermanentFailures', {
      fn: this.reconcile.fn,
      functionLabel: 'reconcile',
      action: props.alarmAction,
    });
    // `npm run users -- reconcile --stage <stage>` invokes it by this output.
    new CfnOutput(this, 'ReconcileFunctionName', { value: this.reconcile.fn.functionName });
    // `npm run smoke -- --stage <stage>` checks and invokes these.
    new CfnOutput(this, 'PreSignUpFunctionName', { value: this.preSignUpFunction.functionName });
    new CfnOutput(this, 'UserEventsFunctionName', { value: this.userEvents.fn.functionName });
    new CfnOutput(this, 'ReplayFunctionName', { value: replay.functionName });
  }
}
