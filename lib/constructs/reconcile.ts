// The safety net, in AWS: the reconcile (lambdas/reconcile) as two functions. The runner, outside the VPC, reads
// the pool (ListUsers) and runs the core; the store function, inside the VPC, is the database side (the
// run's state, its pages, the prune's erasures) and answers one store call per invocation. Nothing in the VPC
// needs Cognito, so the pool may have a domain (managed login, federation): a Cognito VPC endpoint does not
// serve such a pool. The runner starts on a schedule and resumes every 15 minutes until a run has seen the
// whole pool. Events are best effort; this is what repairs what they miss, erasures included.
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../lambdas/runtime/metrics';
import { FUNCTION_MEMORY_MB } from '../constants';
import { FIXED_CONCURRENCY, type LifecycleSettings } from '../stage';
import { projectAlarm } from './alarms';
import type { IamDatabase } from './database-client';
import { ProjectFunction } from './project-function';

/** What the schedules send (lambdas/reconcile): start a run, or resume the open one. */
export const START_INPUT = { mode: 'start' } as const;
export const CONTINUE_INPUT = { mode: 'continue' } as const;
/** How often an open run is resumed: one invocation may use all of its 15 minutes, then the next picks up. */
export const CONTINUE_EVERY = Duration.minutes(15);

/**
 * The pool API calls the reconcile makes, and nothing else: ListUsers (pages, and the prune's re-check by sub),
 * ListGroups and ListUsersInGroup (the groups and their members). All reads.
 */
export const RECONCILE_ACTIONS = [
  'cognito-idp:ListUsers',
  'cognito-idp:ListGroups',
  'cognito-idp:ListUsersInGroup',
] as const;

/** The metrics the runner emits (lambdas/reconcile/handler.ts), in METRICS_NAMESPACE by FunctionName. */
export const RECONCILE_METRICS = ['Drift', 'PruneRefused', 'TombstonedInPool'] as const;

export interface ReconcileProps {
  readonly vpc: ec2.IVpc;
  /** The pool to reconcile; it may have a domain. */
  readonly userPool: cognito.IUserPool;
  readonly database: IamDatabase;
  /** The database user the store function logs in as (user_reconciler). */
  readonly databaseUser: string;
  readonly settings: LifecycleSettings;
  readonly logRetention: logs.RetentionDays;
  /** The stage's topic: notified when a run fails, drifts, refuses to prune or meets a tombstoned user. */
  readonly alarmAction: cloudwatch.IAlarmAction;
}

export class Reconcile extends Construct {
  /**
   * The store function, in the VPC: the database side, as user_reconciler, with no Cognito permission. Its
   * construct id is the one the reconcile function had when it was one function, so its role, security group
   * and log group stay the same resources.
   */
  public readonly fn: ProjectFunction;
  /** The runner, outside the VPC: reads the pool and runs whole reconcile invocations (what the CLI invokes). */
  public readonly runner: ProjectFunction;
  public readonly startSchedule: scheduler.Schedule;
  public readonly continueSchedule: scheduler.Schedule;
  /** The runner failed an invocation. */
  public readonly errorsAlarm: cloudwatch.Alarm;
  public readonly driftAlarm: cloudwatch.Alarm;
  public readonly pruneRefusedAlarm: cloudwatch.Alarm;
  public readonly tombstonedInPoolAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ReconcileProps) {
    super(scope, id);
    const { settings, userPool } = props;

    this.fn = new ProjectFunction(this, 'Function', {
      entry: 'lambdas/reconcile-store/index.ts',
      description:
        "The reconcile's database side: one store call per invocation (a page, a prune chunk, an erasure) as user_reconciler",
      vpc: props.vpc,
      // One call: the connection's 35 s budget (lambdas/reconcile-store/handler.ts) and a cold start.
      timeout: Duration.minutes(1),
      memorySize: FUNCTION_MEMORY_MB,
      logRetention: props.logRetention,
      // One connection: the runner runs one at a time and calls one store call at a time.
      reservedConcurrentExecutions: FIXED_CONCURRENCY.reconcile,
    });
    props.database.bindClient(this.fn, { user: props.databaseUser, description: 'reconcile to PostgreSQL' });

    // Outside the VPC on purpose (like the user-events function): it calls Cognito, which a pool with a domain
    // answers only on its public endpoint, and Lambda's Invoke API; never the database.
    this.runner = new ProjectFunction(this, 'Runner', {
      entry: 'lambdas/reconcile/index.ts',
      description: 'Reconciles public.users with the user pool, resumably, and erases who left it (the safety net)',
      timeout: Duration.minutes(15),
      memorySize: FUNCTION_MEMORY_MB,
      logRetention: props.logRetention,
      // One run at a time: two would race each other's pages and double the ListUsers rate.
      reservedConcurrentExecutions: FIXED_CONCURRENCY.reconcile,
      environment: {
        USER_POOL_ID: userPool.userPoolId,
        ERASURE_POLICY: settings.erasure,
        RECONCILE_RATE: String(settings.reconcileRate),
        RECONCILE_PRUNE: String(settings.reconcilePrune),
        // Empty: the core's default limit (the larger of 10 rows and 1% of the table).
        RECONCILE_MAX_PRUNE: settings.reconcileMaxPrune === undefined ? '' : String(settings.reconcileMaxPrune),
        RECONCILE_STORE_FUNCTION: this.fn.functionName,
      },
    });
    userPool.grant(this.runner, ...RECONCILE_ACTIONS);
    this.fn.grantInvoke(this.runner);
    const storeLogicalId: unknown = Stack.of(this).resolve((this.fn.node.defaultChild as lambda.CfnFunction).logicalId);
    const runnerRole = this.runner.role;
    if (runnerRole === undefined) throw new Error('the reconcile runner has no execution role');
    Validations.of(runnerRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${String(storeLogicalId)}.Arn>:*]`,
      reason:
        "lambda:InvokeFunction on the reconcile store function's versions and aliases (CDK's grantInvoke adds the function's ARN and ARN:*); no other function.",
    });
    // A failed invocation is not retried: the next "continue" resumes from the last committed page. A
    // throttled one (the run is still going) waits in Lambda's queue for at most an hour, so a "start" that
    // meets a running "continue" still starts, and stale "continue"s do not pile up.
    this.runner.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.hours(1) });

    // One role for both schedules, of this construct, so that its one finding is acknowledged here.
    const schedulerRole = new iam.Role(this, 'SchedulerRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: 'EventBridge Scheduler: invokes the reconcile runner, nothing else',
    });
    const runnerLogicalId: unknown = Stack.of(this).resolve(
      (this.runner.node.defaultChild as lambda.CfnFunction).logicalId,
    );
    Validations.of(schedulerRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${String(runnerLogicalId)}.Arn>:*]`,
      reason:
        "lambda:InvokeFunction on the reconcile runner's versions and aliases (CDK's grantInvoke adds the function's ARN and ARN:*); no other function.",
    });
    const target = (input: object, retryAttempts: number) =>
      new schedulerTargets.LambdaInvoke(this.runner, {
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
        'A reconcile invocation failed: the run resumes at the next one, but deletions and missed changes wait until a run completes (docs/failure-modes.md)',
      metric: this.runner.metricErrors({ statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      action: props.alarmAction,
    });
    const metric = (metricName: (typeof RECONCILE_METRICS)[number]) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { FunctionName: this.runner.functionName },
        statistic: cloudwatch.Stats.SUM,
      });
    this.driftAlarm = projectAlarm(this, 'DriftAlarm', {
      description: `The reconcile repaired more than ${settings.reconcileDriftThreshold} rows in a day (inserted, updated, or erased by the prune): the event path is missing changes (CloudTrail, the rule, the user-events function). Read the runs' logs (docs/failure-modes.md)`,
      metric: metric('Drift'),
      period: Duration.days(1),
      threshold: settings.reconcileDriftThreshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      action: props.alarmAction,
    });
    this.pruneRefusedAlarm = projectAlarm(this, 'PruneRefusedAlarm', {
      description:
        'The reconcile refused to prune: the run saw no user, or more rows would be erased than the limit. Nothing was erased; every run refuses until someone checks the pool and either fixes it or raises the limit for one run (docs/failure-modes.md)',
      metric: metric('PruneRefused'),
      threshold: 1,
      action: props.alarmAction,
    });
    this.tombstonedInPoolAlarm = projectAlarm(this, 'TombstonedInPoolAlarm', {
      description:
        'The reconcile found users in the pool whose sub was erased from the table: a wrong erasure to restore (npm run users -- restore <sub>, subs in the WARN lines of the run). Their rows are not written back until then',
      metric: metric('TombstonedInPool'),
      threshold: 1,
      action: props.alarmAction,
    });
  }
}
