// The Cognito user pool, its trigger functions, the sync queue with its writer, and the lifecycle sync, in one
// stack: a trigger whose function lives in another stack makes the two stacks depend on each other.
import { CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import { functionAlarms } from './constructs/alarms';
import type { IamDatabase } from './constructs/database-client';
import { AuditTrail } from './constructs/audit-trail';
import { PostConfirmation } from './constructs/post-confirmation';
import { ExportFunction } from './constructs/export-function';
import { Federation } from './constructs/federation';
import { HandleCheck, PreSignUp } from './constructs/pre-sign-up';
import type { ProjectFunction } from './constructs/project-function';
import { Reconcile } from './constructs/reconcile';
import { SyncQueue } from './constructs/sync-queue';
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
  /** The SQS interface endpoint the post-confirmation function reaches the sync queue through. */
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
  public readonly syncQueue: SyncQueue;
  /** The event path: CloudTrail's user calls of this pool to the sync queue. */
  public readonly userEvents: UserEvents;
  /** The scheduled, resumable reconcile: the safety net for what events miss. */
  public readonly reconcile: Reconcile;
  /** A person's data as JSON on an operator's request (`npm run users -- export <sub> --stage <stage>`). */
  public readonly exportFunction: ExportFunction;
  /** The management-event trail the event path needs; absent with `-c existingTrail=true`. */
  public readonly auditTrail?: AuditTrail;
  /** The managed login domain and the identity providers; present with `-c domainPrefix`. */
  public readonly federation?: Federation;
  /**
   * The in-VPC handle check PreSignUp asks when it runs outside the VPC; present with
   * `-c linkFederatedByEmail=true`.
   */
  public readonly handleCheckFunction?: ProjectFunction;

  constructor(scope: Construct, id: string, props: AuthStackProps) {
    super(scope, id, props);
    const { settings, database } = props;

    const postConfirmation = new PostConfirmation(this, {
      vpc: props.vpc,
      database,
      databaseUser: props.databaseUser,
      logRetention: settings.logRetention,
      reservedConcurrency: settings.reservedConcurrency,
      alarmAction: props.alarmAction,
    });
    const fn = postConfirmation.fn;
    this.postConfirmationFunction = fn;

    // The id the deployed queue's and writer's logical ids derive from: another would replace them.
    this.syncQueue = new SyncQueue(this, 'SignupFallback', {
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
    // The writer's own alarms (the queue's are in SyncQueue): an invocation that fails as a whole, not a
    // record it reports back (those reach the dead-letter alarm), and a database it can never use.
    const writer = this.syncQueue.writer;
    functionAlarms(this, 'Replay', {
      fn: writer,
      functionLabel: 'replay',
      errors: 'The sync writer failed: queued sign-ups and user changes are not being written to public.users',
      action: props.alarmAction,
    });

    const preSignUpProps = {
      vpc: props.vpc,
      database,
      databaseUser: DATABASE_USERS.preSignUp,
      logRetention: settings.logRetention,
      reservedConcurrency: settings.preSignUpConcurrency,
      alarmAction: props.alarmAction,
    };
    // Linking calls Cognito, which a pool with a domain never answers through the VPC endpoint, and the handle
    // check needs the database, which is only inside: with linking, PreSignUp runs outside and asks HandleCheck.
    const handleCheck = settings.federation.linkFederatedByEmail ? new HandleCheck(this, preSignUpProps) : undefined;
    this.handleCheckFunction = handleCheck?.fn;
    const preSignUp = new PreSignUp(this, { ...preSignUpProps, linkingWith: handleCheck });
    this.preSignUpFunction = preSignUp.fn;

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
    if (handleCheck !== undefined) preSignUp.allowLinking(this, this.userPool);

    if (settings.federation.domainPrefix !== undefined) {
      this.federation = new Federation(this, 'Federation', { userPool: this.userPool, options: settings.federation });
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
      // With a domain, the code flow with PKCE only (lib/constructs/federation.ts). Without one, OAuth off: CDK's
      // defaults would allow the implicit flow, every scope (aws.cognito.signin.user.admin included) and an
      // https://example.com callback.
      ...(this.federation ? this.federation.clientOptions : { disableOAuth: true }),
      readAttributes: new cognito.ClientAttributes().withStandardAttributes({ ...writable, emailVerified: true }),
      writeAttributes: new cognito.ClientAttributes().withStandardAttributes(writable),
    });

    this.federation?.configureClient(this.userPoolClient);

    new CfnOutput(this, 'UserPoolId', { value: this.userPool.userPoolId });
    // The managed login (and federated sign-in) starts here: https://<domainPrefix>.auth.<region>.amazoncognito.com
    if (this.federation) new CfnOutput(this, 'ManagedLoginUrl', { value: this.federation.domain.baseUrl() });
    new CfnOutput(this, 'UserPoolClientId', { value: this.userPoolClient.userPoolClientId });
    new CfnOutput(this, 'PostConfirmationFunctionName', { value: fn.functionName });

    // The user lifecycle sync: events when CloudTrail delivers them, the reconcile when it does not.
    const lifecycleRemoval = settings.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    if (!settings.lifecycle.existingTrail)
      this.auditTrail = new AuditTrail(this, 'AuditTrail', {
        retention: Duration.days(settings.lifecycle.trailRetentionDays),
      });
    this.userEvents = new UserEvents(this, 'UserEvents', {
      userPool: this.userPool,
      syncQueue: this.syncQueue,
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
    // Its Errors alarm is the Reconcile construct's own.
    functionAlarms(this, 'Reconcile', { fn: this.reconcile.fn, functionLabel: 'reconcile', action: props.alarmAction });
    // `npm run users -- reconcile --stage <stage>` invokes it by this output.
    new CfnOutput(this, 'ReconcileFunctionName', { value: this.reconcile.runner.functionName });
    // `npm run smoke -- --stage <stage>` checks and invokes these.
    new CfnOutput(this, 'PreSignUpFunctionName', { value: this.preSignUpFunction.functionName });
    new CfnOutput(this, 'UserEventsFunctionName', { value: this.userEvents.fn.functionName });
    new CfnOutput(this, 'ReplayFunctionName', { value: writer.functionName });

    // `npm run users -- export <sub> --stage <stage>` invokes it by this output; operators attach its invoke policy.
    this.exportFunction = new ExportFunction(this, 'Export', {
      vpc: props.vpc,
      database,
      logRetention: settings.logRetention,
    });
    functionAlarms(this, 'Export', {
      fn: this.exportFunction.fn,
      functionLabel: 'export',
      action: props.alarmAction,
      errors: "The export function failed: an operator's export of a person's data returned nothing; read its log",
    });
    new CfnOutput(this, 'ExportFunctionName', { value: this.exportFunction.fn.functionName });
    new CfnOutput(this, 'ExportInvokePolicyArn', { value: this.exportFunction.invokePolicy.managedPolicyArn });
  }
}
