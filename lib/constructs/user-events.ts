// The event path: an EventBridge rule on the default bus for this pool's user and group calls as CloudTrail
// records them, and the function (lambdas/user-events) that re-reads each user (and their groups) or group and
// sends one sync message to the writer's queue. Failed deliveries and failed invocations both end in one dead-letter queue, alarmed.
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as cognito from 'aws-cdk-lib/aws-cognito';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  CLOUDTRAIL_DETAIL_TYPE,
  COGNITO_API_SOURCE,
  COGNITO_EVENT_SOURCE,
  GROUP_EVENT_NAMES,
  USER_EVENT_NAMES,
} from '../../lambdas/cognito/cloudtrail-event';
import { projectAlarm } from './alarms';
import { ProjectFunction } from './project-function';
import type { SyncQueue } from './sync-queue';

/**
 * The calls a user makes with their own access token (DeleteUser, UpdateUserAttributes, ...) or with the app
 * client's id (ConfirmSignUp): their requests name no user pool, so the rule cannot filter them by pool. The
 * Admin* calls and DeleteGroup (IAM-authorized) all take UserPoolId. The function looks the sub up in this
 * pool, so a call of another pool in the same account costs one ListUsers that finds nobody, and tombstones a
 * sub this table never held.
 */
export const CALLS_WITHOUT_POOL_ID: readonly string[] = USER_EVENT_NAMES.filter(
  (name) => !name.startsWith('Admin') && !(GROUP_EVENT_NAMES as readonly string[]).includes(name),
);

/** The pool API calls the user-events function makes, and nothing else: all reads. */
export const USER_EVENTS_ACTIONS = [
  'cognito-idp:ListUsers',
  'cognito-idp:AdminListGroupsForUser',
  'cognito-idp:GetGroup',
] as const;

/** The rule's pattern: this pool's successful user calls, as EventBridge receives them from CloudTrail. */
export function userEventPattern(userPoolId: string): events.EventPattern {
  return {
    source: [COGNITO_EVENT_SOURCE],
    detailType: [CLOUDTRAIL_DETAIL_TYPE],
    detail: {
      eventSource: [COGNITO_API_SOURCE],
      eventName: [...USER_EVENT_NAMES],
      // A failed call changed nothing in the pool. A successful one has no errorCode, and some Cognito records
      // carry an empty one; EventBridge matches "" only as "", never as absent, so both are listed
      // (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-null-values.html). A null
      // errorCode is not listed: CloudFormation refuses null in a pattern given as an object.
      errorCode: events.Match.anyOf(events.Match.doesNotExist(), events.Match.exactString('')),
      $or: [{ requestParameters: { userPoolId: [userPoolId] } }, { eventName: [...CALLS_WITHOUT_POOL_ID] }],
    },
  };
}

/** EventBridge's retries of a delivery the function did not accept (throttled, unavailable). */
export const DELIVERY_RETRIES = { retryAttempts: 8, maxEventAge: Duration.hours(2) } as const;
/** Lambda's retries of an invocation that failed, before the event goes to the dead-letter queue. */
export const INVOCATION_RETRIES = { retryAttempts: 2, maxEventAge: Duration.hours(2) } as const;

export interface UserEventsProps {
  readonly userPool: cognito.IUserPool;
  /** The writer's queue: the function becomes one of its producers (SYNC_QUEUE_URL). */
  readonly syncQueue: SyncQueue;
  readonly logRetention: logs.RetentionDays;
  /** @default RemovalPolicy.DESTROY */
  readonly removalPolicy?: RemovalPolicy;
  /** The stage's topic: notified by the dead-letter alarm. */
  readonly alarmAction: cloudwatch.IAlarmAction;
}

export class UserEvents extends Construct {
  public readonly fn: ProjectFunction;
  public readonly rule: events.Rule;
  /** Events EventBridge could not deliver, and invocations that failed after Lambda's retries. */
  public readonly deadLetterQueue: sqs.Queue;
  public readonly deadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: UserEventsProps) {
    super(scope, id);

    // Outside the VPC on purpose: it calls only Cognito (ListUsers) and SQS, both public AWS APIs behind
    // IAM and TLS, and never the database. In the VPC it would need the Cognito and SQS endpoints on its path
    // and ENIs for nothing; outside, it needs no endpoint at all.
    this.fn = new ProjectFunction(this, 'Function', {
      entry: 'lambdas/user-events/index.ts',
      description:
        'Turns a Cognito user or group call (from CloudTrail) into one sync message: re-reads the user or group',
      timeout: Duration.seconds(10),
      logRetention: props.logRetention,
      environment: { USER_POOL_ID: props.userPool.userPoolId },
    });
    // ListUsers filtered by sub finds every kind of user (local, chosen name, federated); AdminGetUser would need
    // the user name, which is the sub only for a local user of a pool that signs in by email. A membership event
    // reads the user's groups (AdminListGroupsForUser, by the user name ListUsers answered with); a DeleteGroup
    // event checks the group is gone (GetGroup). All reads.
    props.userPool.grant(this.fn, ...USER_EVENTS_ACTIONS);
    props.syncQueue.addProducer(this.fn, 'SYNC_QUEUE_URL');

    // The events carry a sub and the caller's address, never attribute values (Cognito hides them). SQS-managed
    // encryption: a key of our own would have to trust events.amazonaws.com in its policy for nothing more.
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });

    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This is the dead-letter queue of the user-events rule and function; its messages wait for an operator, alarmed.',
    });

    this.fn.configureAsyncInvoke({
      ...INVOCATION_RETRIES,
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
    });

    this.rule = new events.Rule(this, 'Rule', {
      description: 'Cognito user calls of this pool (CloudTrail) to the user-events function',
      eventPattern: userEventPattern(props.userPool.userPoolId),
      targets: [new targets.LambdaFunction(this.fn, { ...DELIVERY_RETRIES, deadLetterQueue: this.deadLetterQueue })],
    });

    // The target adds an Allow for EventBridge with this rule as aws:SourceArn; this makes it the only way in,
    // besides the function's own failed invocations (Lambda sends those with the function's role).
    const fnRole = this.fn.role;
    if (fnRole === undefined) throw new Error('the user-events function has no execution role');
    this.deadLetterQueue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OnlyTheRuleAndTheFunctionSend',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['sqs:SendMessage'],
        resources: [this.deadLetterQueue.queueArn],
        conditions: { ArnNotEquals: { 'aws:SourceArn': this.rule.ruleArn, 'aws:PrincipalArn': fnRole.roleArn } },
      }),
    );

    this.deadLetterAlarm = projectAlarm(this, 'DeadLetterAlarm', {
      description:
        'A Cognito user change could not be handed to the writer and is in the user-events dead-letter queue: the table misses it until the next reconcile (docs/failure-modes.md)',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      action: props.alarmAction,
    });
  }
}
