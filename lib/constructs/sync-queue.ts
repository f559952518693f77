// The sync queue and the one writer. Every asynchronous write to public.users goes through here: the sign-ups
// the post-confirmation function queues when the database cannot take them (version-1 messages), and the
// lifecycle changes the event function reads from the pool (version-2). An encrypted SQS queue only its
// producers may send to, the writer function in the VPC that applies each message with the same idempotent,
// order-keyed statements, and a dead-letter queue with an alarm for what never succeeds. The construct is
// created with the id SignupFallback and its function with ReplayFunction: the logical ids of the deployed
// queue (with messages in it) and function derive from them.
import { Duration, Lazy, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { HTTPS_PORT } from '../constants';
import { FIXED_CONCURRENCY, type ErasurePolicy } from '../stage';
import { projectAlarm } from './alarms';
import type { IamDatabase } from './database-client';
import { ProjectFunction, type WirableFunction } from './project-function';

/** A function that sends to the sync queue: it is granted the send, told the URL, and named in the queue policy. */
export interface SyncProducer extends iam.IGrantable {
  /** The execution role: the queue policy admits exactly these roles (aws:PrincipalArn). */
  readonly role?: iam.IRole;
  addEnvironment(key: string, value: string): unknown;
}

export interface SyncQueueProps {
  readonly vpc: ec2.IVpc;
  /** The SQS interface endpoint: the only way out of the isolated subnets to SQS. */
  readonly sqsEndpoint: ec2.IInterfaceVpcEndpoint;
  /**
   * The post-confirmation function, which parks sign-ups in the queue: it gets the send permission, the
   * queue URL (FALLBACK_QUEUE_URL), and a path to the endpoint. Other producers join with `addProducer`.
   */
  readonly producer: WirableFunction & SyncProducer;
  /** The writer is bound to it as a client. */
  readonly database: IamDatabase;
  /** The database user the writer logs in as (sync_writer: sign_up, apply_users, erase_user). */
  readonly databaseUser: string;
  /** What the writer does to an erased user's row (ERASURE_POLICY). */
  readonly erasure: ErasurePolicy;
  readonly logRetention: logs.RetentionDays;
  /**
   * Deliveries before a message moves to the dead-letter queue. With the visibility timeout this is the
   * retry schedule: 12 deliveries 5 minutes apart ride out an hour-long database outage. @default 12
   */
  readonly maxReceiveCount?: number;
  /** @default RemovalPolicy.DESTROY (the queues hold messages in transit only; prod may retain) */
  readonly removalPolicy?: RemovalPolicy;
  /** The stage's topic: notified by both alarms. */
  readonly alarmAction: cloudwatch.IAlarmAction;
}

export class SyncQueue extends Construct {
  public readonly key: kms.Key;
  /** The sync queue: version-1 sign-ups and version-2 lifecycle messages alike. */
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  /** The one writer (lambdas/replay/index.ts). */
  public readonly writer: ProjectFunction;
  /** Fires when any message reaches the dead-letter queue: a change the writer could not apply. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;
  /** Fires when a message has waited long: the database has been unavailable for a while. */
  public readonly backlogAlarm: cloudwatch.Alarm;
  private readonly producerRoleArns: string[] = [];

  constructor(scope: Construct, id: string, props: SyncQueueProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;

    // The messages are personal data (email, name, handle): a key of our own, so that who may read them is
    // decided in one key policy and every use is in CloudTrail. Only SQS calls KMS: no KMS endpoint needed.
    this.key = new kms.Key(this, 'Key', {
      description: 'Sync queues: sign-ups and user changes waiting to be written to PostgreSQL',
      enableKeyRotation: true,
      removalPolicy,
    });

    const retention = Duration.days(14);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      retentionPeriod: retention,
      removalPolicy,
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This is the dead-letter queue of the sync queue; its messages wait for an operator, alarmed.',
    });

    // Writer timeout 30 s; Lambda's guidance for SQS sources is a visibility timeout of 6x that.
    // It is also the backoff: a failed record comes back after it.
    const writerTimeout = Duration.seconds(30);
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      dataKeyReuse: Duration.minutes(5),
      enforceSSL: true,
      retentionPeriod: retention,
      visibilityTimeout: Duration.minutes(5),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 12 },
      removalPolicy,
    });
    // A principal of this account with SQS and KMS rights of its own could otherwise inject an upsert that
    // overwrites a user's email. The roles are filled in as producers are added (addProducer), at synth.
    this.queue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OnlyTheProducersSend',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': Lazy.list({ produce: () => this.producerRoleArns }) } },
      }),
    );

    this.addProducer(props.producer, 'FALLBACK_QUEUE_URL');
    props.producer.connections.allowTo(
      props.sqsEndpoint,
      ec2.Port.tcp(HTTPS_PORT),
      'post-confirmation to the SQS endpoint',
    );

    this.writer = new ProjectFunction(this, 'ReplayFunction', {
      entry: 'lambdas/replay/index.ts',
      description: 'The one writer: applies queued sign-ups and user changes to public.users',
      vpc: props.vpc,
      timeout: writerTimeout,
      logRetention: props.logRetention,
      environment: { ERASURE_POLICY: props.erasure },
    });
    props.database.bindClient(this.writer, { user: props.databaseUser, description: 'replay to PostgreSQL' });
    // Lambda's poller reads the queue outside the VPC; the function itself never calls SQS.
    this.writer.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: 10,
        maxBatchingWindow: Duration.seconds(5),
        reportBatchItemFailures: true,
        // A database that is just back is not flooded, and the writer's connections stay within the
        // arithmetic of lib/stage.ts (sync_writer's CONNECTION LIMIT).
        maxConcurrency: FIXED_CONCURRENCY.replay,
      }),
    );

    this.deadLetterAlarm = projectAlarm(this, 'DeadLetterAlarm', {
      description:
        'A queued sign-up or user change could not be written and is in the dead-letter queue: read the writer’s log by sub, fix, then run the reconcile (docs/failure-modes.md)',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      action: props.alarmAction,
    });
    this.backlogAlarm = projectAlarm(this, 'BacklogAlarm', {
      description:
        'Sign-ups or user changes have waited more than 15 minutes in the sync queue: the database is unavailable',
      metric: this.queue.metricApproximateAgeOfOldestMessage({ statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: Duration.minutes(15).toSeconds(),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      action: props.alarmAction,
    });
  }

  /**
   * Lets `producer` send to the sync queue: the send permission, the key use SQS makes on its behalf (and
   * only through SQS), its role in the queue policy, and the queue's URL in `environmentVariable`.
   */
  addProducer(producer: SyncProducer, environmentVariable: string): void {
    if (producer.role === undefined)
      throw new Error(`a sync queue producer needs an execution role (${environmentVariable})`);
    this.producerRoleArns.push(producer.role.roleArn);
    this.queue.grant(producer, 'sqs:SendMessage');
    // grantSendMessages would add kms:Encrypt and kms:ReEncrypt*; sending to an SSE-KMS queue needs exactly
    // these two, which SQS uses on the sender's behalf: through SQS only, never called directly.
    producer.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [this.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `sqs.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
    producer.addEnvironment(environmentVariable, this.queue.queueUrl);
  }
}
