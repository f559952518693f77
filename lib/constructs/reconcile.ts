// The safety net, in AWS: the reconcile (lambdas/reconcile) as a function in the VPC, started on a schedule and
// resumed every 15 minutes until a run has seen the whole pool, with the Cognito interface endpoint it reaches
// the pool through. Events are best effort; this is what repairs what they miss, erasures included.
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { HTTPS_PORT } from '../constants';
import { endpointSubnetsOf } from '../network-stack';
import { FIXED_CONCURRENCY, type LifecycleSettings } from '../stage';
import { projectAlarm } from './alarms';
import type { IamDatabase } from './database-client';
import { ProjectFunction } from './project-function';

/** What the schedules send (lambdas/reconcile): start a run, or resume the open one. */
export const START_INPUT = { mode: 'start' } as const;
export const CONTINUE_INPUT = { mode: 'continue' } as const;
/** How often an open run is resumed: one invocation may use all of its 15 minutes, then the next picks up. */
export const CONTINUE_EVERY = Duration.minutes(15);

/** The pool API calls the reconcile makes, and nothing else. */
export const RECONCILE_ACTIONS = ['cognito-idp:ListUsers', 'cognito-idp:AdminGetUser'] as const;

export interface ReconcileProps {
  readonly vpc: ec2.IVpc;
  /** The pool to reconcile. It must have no domain: the Cognito endpoint refuses such a pool's calls. */
  readonly userPool: cognito.IUserPool;
  readonly database: IamDatabase;
  /** The database user it logs in as (user_reconciler). */
  readonly databaseUser: string;
  readonly settings: LifecycleSettings;
  readonly logRetention: logs.RetentionDays;
  /** The stage's topic: notified when a run fails. */
  readonly alarmAction: cloudwatch.IAlarmAction;
}

export class Reconcile extends Construct {
  public readonly fn: ProjectFunction;
  /**
   * cognito-idp through PrivateLink, for the isolated subnets (no NAT). In this stack, beside the pool, so its
   * policy names the pool's ARN itself: the network stack is deployed before the pool exists.
   */
  public readonly cognitoEndpoint: ec2.InterfaceVpcEndpoint;
  public readonly startSchedule: scheduler.Schedule;
  public readonly continueSchedule: scheduler.Schedule;
  public readonly errorsAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ReconcileProps) {
    super(scope, id);
    const { settings, userPool } = props;

    this.fn = new ProjectFunction(this, 'Function', {
      entry: 'lambdas/reconcile/index.ts',
      description: 'Reconciles public.users with the user pool, resumably, and erases who left it (the safety net)',
      vpc: props.vpc,
      timeout: Duration.minutes(15),
      memorySize: 512,
      logRetention: props.logRetention,
      // One run at a time: two would race each other's pages and double the ListUsers rate.
      reservedConcurrentExecutions: FIXED_CONCURRENCY.reconcile,
      environment: {
        USER_POOL_ID: userPool.userPoolId,
        ERASURE_POLICY: settings.erasure,
        RECONCILE_RATE: String(settings.reconcileRate),
        RECONCILE_PRUNE: String(settings.reconcilePrune),
      },
    });
    props.database.bindClient(this.fn, { user: props.databaseUser, description: 'reconcile to PostgreSQL' });
    userPool.grant(this.fn, ...RECONCILE_ACTIONS);
    // A failed invocation is not retried: the next "continue" resumes from the last committed page. A
    // throttled one (the run is still going) waits in Lambda's queue for at most an hour, so a "start" that
    // meets a running "continue" still starts, and stale "continue"s do not pile up.
    this.fn.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.hours(1) });

    this.cognitoEndpoint = new ec2.InterfaceVpcEndpoint(this, 'CognitoEndpoint', {
      vpc: props.vpc,
      service: ec2.InterfaceVpcEndpointAwsService.COGNITO_IDP,
      privateDnsEnabled: true,
      open: false,
      subnets: endpointSubnetsOf(props.vpc),
      // An endpoint only answers: 443 in from the reconcile (below), nothing out.
      securityGroups: [
        new ec2.SecurityGroup(this, 'CognitoEndpointSecurityGroup', {
          vpc: props.vpc,
          description: 'Cognito endpoint: 443 from the reconcile function only',
          allowAllOutbound: false,
        }),
      ],
    });
    // Only the reconcile's two calls, on this pool. No aws:ResourceAccount here: the ARN names the account
    // already, and a condition key a service does not populate would refuse every call.
    this.cognitoEndpoint.addToPolicy(
      new iam.PolicyStatement({
        principals: [new iam.AnyPrincipal()],
        actions: [...RECONCILE_ACTIONS],
        resources: [userPool.userPoolArn],
      }),
    );
    this.fn.connections.allowTo(this.cognitoEndpoint, ec2.Port.tcp(HTTPS_PORT), 'reconcile to the Cognito endpoint');
    this.node.addValidation({ validate: () => poolDomainErrors(userPool) });

    // One role for both schedules, of this construct, so that its one finding is acknowledged here.
    const schedulerRole = new iam.Role(this, 'SchedulerRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: 'EventBridge Scheduler: invokes the reconcile function, nothing else',
    });
    const fnLogicalId: unknown = Stack.of(this).resolve((this.fn.node.defaultChild as lambda.CfnFunction).logicalId);
    Validations.of(schedulerRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${String(fnLogicalId)}.Arn>:*]`,
      reason:
        "lambda:InvokeFunction on the reconcile function's versions and aliases (CDK's grantInvoke adds the function's ARN and ARN:*); no other function.",
    });
    const target = (input: object, retryAttempts: number) =>
      new schedulerTargets.LambdaInvoke(this.fn, {
        role: schedulerRole,
        input: scheduler.ScheduleTargetInput.fromObject(input),
        retryAttempts,
        maxEventAge: Duration.hours(1),
      });
    this.startSchedule = new scheduler.Schedule(this, 'StartSchedule', {
      description: 'Starts a reconcile run (-c reconcileSchedule)',
      schedule: scheduler.ScheduleExpression.expression(settings.reconcileSchedule),
      target: target(START_INPUT, 3),
    });
    this.continueSchedule = new scheduler.Schedule(this, 'ContinueSchedule', {
      description: 'Resumes the open reconcile run, if any, where its last committed page ended',
      schedule: scheduler.ScheduleExpression.rate(CONTINUE_EVERY),
      // The next one comes in 15 minutes.
      target: target(CONTINUE_INPUT, 0),
    });

    this.errorsAlarm = projectAlarm(this, 'ErrorsAlarm', {
      description:
        'A reconcile invocation failed: the run resumes at the next one, but deletions and missed changes wait until a run completes (README "Failure modes")',
      metric: this.fn.metricErrors({ statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      action: props.alarmAction,
    });
  }
}

/**
 * The Cognito interface endpoint does not serve a pool that has a domain (managed login, the hosted UI): all
 * of that pool's calls through it fail. A domain added to this pool would silently stop the reconcile.
 */
function poolDomainErrors(userPool: cognito.IUserPool): string[] {
  const stack = Stack.of(userPool);
  const pool = JSON.stringify(stack.resolve(userPool.userPoolId));
  const domains = stack.node
    .findAll()
    .filter((child): child is cognito.CfnUserPoolDomain => child instanceof cognito.CfnUserPoolDomain)
    .filter((domain) => JSON.stringify(stack.resolve(domain.userPoolId)) === pool);
  return domains.map(
    (domain) =>
      `user pool domain ${domain.node.path}: the reconcile reaches the pool through the Cognito VPC endpoint, which refuses every call for a pool with a domain. Give the reconcile another path to Cognito before adding one.`,
  );
}
