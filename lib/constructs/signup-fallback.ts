// Where a confirmed sign-up goes when the database cannot take it within Cognito's budget: an encrypted SQS
// queue the post-confirmation function reaches through the VPC endpoint, a replay function in the VPC that
// drains it into the same idempotent upsert, and a dead-letter queue with an alarm for what never succeeds.
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { HTTPS_PORT } from '../constants';
import { projectAlarm } from './alarms';
import type { IamDatabase } from './database-client';
import { ProjectFunction, type WirableFunction } from './project-function';

export interface SignupFallbackProps {
  readonly vpc: ec2.IVpc;
  /** The SQS interface endpoint: the only way out of the isolated subnets to SQS. */
  readonly sqsEndpoint: ec2.IInterfaceVpcEndpoint;
  /**
   * The post-confirmation function, which parks sign-ups in the queue: it gets the send permission, the
   * queue URL, and a path to the endpoint.
   */
  readonly producer: WirableFunction;
  /** The replay function is bound to it as a client. */
  readonly database: IamDatabase;
  /** The database user the replay function logs in as (the same least-privilege role as the trigger). */
  readonly databaseUser: string;
  readonly logRetention: logs.RetentionDays;
  /**
   * Deliveries before a message moves to the dead-letter queue. With the visibility timeout this is the
   * retry schedule: 12 deliveries 5 minutes apart ride out an hour-long database outage. @default 12
   */
  readonly maxReceiveCount?: number;
  /** @default RemovalPolicy.DESTROY (the queues hold sign-ups in transit only; prod may retain) */
  readonly removalPolicy?: RemovalPolicy;
  /** The stage's topic: notified by both alarms. */
  readonly alarmAction: cloudwatch.IAlarmAction;
}

export class SignupFallback extends Construct {
  public readonly key: kms.Key;
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly replayFunction: ProjectFunction;
  /** Fires when any message reaches the dead-letter queue: a sign-up that replay could not write. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;
  /** Fires when a queued sign-up has waited long: the database has been unavailable for a while. */
  public readonly backlogAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: SignupFallbackProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;

    // The messages are personal data (email, name, handle): a key of our own, so that who may read them is
    // decided in one key policy and every use is in CloudTrail. Only SQS calls KMS: no KMS endpoint needed.
    this.key = new kms.Key(this, 'Key', {
      description: 'Sign-up fallback queues: confirmed sign-ups waiting to be written to PostgreSQL',
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
      reason: 'This is the dead-letter queue of the fallback queue; its messages wait for an operator, alarmed.',
    });

    // Replay function timeout 30 s; Lambda's guidance for SQS sources is a visibility timeout of 6x that.
    // It is also the backoff: a failed record comes back after it.
    const replayTimeout = Duration.seconds(30);
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

    // grantSendMessages would add kms:ReEncrypt* and kms:GenerateDataKey*; sending to an SSE-KMS queue needs
    // exactly these two (SQS generates and decrypts the data key on the sender's behalf).
    this.queue.grant(props.producer, 'sqs:SendMessage');
    this.key.grant(props.producer, 'kms:GenerateDataKey', 'kms:Decrypt');
    props.producer.addEnvironment('FALLBACK_QUEUE_URL', this.queue.queueUrl);
    props.producer.connections.allowTo(props.sqsEndpoint, ec2.Port.tcp(HTTPS_PORT), 'post-confirmation to the SQS endpoint');

    this.replayFunction = new ProjectFunction(this, 'ReplayFunction', {
      entry: 'lambdas/replay/index.ts',
      description: 'Replays queued sign-ups into public.users when the database is back',
      vpc: props.vpc,
      timeout: replayTimeout,
      logRetention: props.logRetention,
    });
    props.database.bindClient(this.replayFunction, { user: props.databaseUser, description: 'replay to PostgreSQL' });
    // Lambda's poller reads the queue outside the VPC; the function itself never calls SQS.
    this.replayFunction.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: 10,
        maxBatchingWindow: Duration.seconds(5),
        reportBatchItemFailures: true,
        // Two at a time at most: a database that is just back is not flooded, and no connection storm.
        maxConcurrency: 2,
      }),
    );

    this.deadLetterAlarm = projectAlarm(this, 'DeadLetterAlarm', {
      description:
        'A queued sign-up could not be replayed and is in the dead-letter queue: read the replay log, fix, then redrive (README "Failure modes")',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      action: props.alarmAction,
    });
    this.backlogAlarm = projectAlarm(this, 'BacklogAlarm', {
      description: 'Sign-ups have waited more than 15 minutes in the fallback queue: the database is unavailable',
      metric: this.queue.metricApproximateAgeOfOldestMessage({ statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: Duration.minutes(15).toSeconds(),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      action: props.alarmAction,
    });
  }
}
