// Who hears: one SNS topic per stage that every alarm of the project and every alert rule publishes to.
// Encrypted with a key of its own, because the AWS managed SNS key cannot be opened to CloudWatch and
// EventBridge, and an encrypted topic they cannot use drops every notification without an error anywhere
// but the alarm's history.
import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/** Where alarms and alert rules send what they find; the stacks receive this, not the topic itself. */
export interface AlertChannel {
  /** The action of every alarm, on ALARM and on OK (lib/constructs/alarms.ts adds it). */
  readonly alarmAction: cloudwatch.IAlarmAction;
  /** An EventBridge target that publishes `message` to the topic (the topic policy already admits the rule). */
  eventTarget(message: events.RuleTargetInput): events.IRuleTarget;
}

export interface AlertsProps {
  /** Part of the topic's display name, so a notification says which stage it is about. */
  readonly stage: string;
  /** Subscribed by email (it must confirm the subscription once). @default - no subscription */
  readonly alarmEmail?: string;
}

export class Alerts extends Construct implements AlertChannel {
  public readonly key: kms.Key;
  public readonly topic: sns.Topic;
  public readonly alarmAction: cloudwatch.IAlarmAction;

  constructor(scope: Construct, id: string, props: AlertsProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.key = new kms.Key(this, 'Key', {
      description: `Cruddur ${props.stage} alerts topic`,
      enableKeyRotation: true,
      // It encrypts notifications in flight only: nothing is left to decrypt once the topic is gone.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // CloudWatch and EventBridge encrypt the message themselves, with their own service identity: an
    // account-root grant does not cover them. The topic policy below decides whose alarms and rules may publish.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AlarmsAndRulesPublishToTheEncryptedTopic',
        principals: [
          new iam.ServicePrincipal('cloudwatch.amazonaws.com'),
          new iam.ServicePrincipal('events.amazonaws.com'),
        ],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );

    this.topic = new sns.Topic(this, 'Topic', {
      displayName: `Cruddur ${props.stage} alerts`,
      masterKey: this.key,
      // A Deny on aws:SecureTransport false for every principal (cdk-nag AwsSolutions-SNS3).
      enforceSSL: true,
    });
    // Once a topic has a policy, a service principal publishes only where that policy names it; these say
    // which: alarms and rules of this account and region, nobody else's (the confused deputy).
    const account = { 'aws:SourceAccount': stack.account };
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AlarmsOfThisAccountPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: account,
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'RulesOfThisAccountPublish',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: account,
          ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'events', resource: 'rule', resourceName: '*' }) },
        },
      }),
    );

    if (props.alarmEmail !== undefined) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }
    this.alarmAction = new cloudwatchActions.SnsAction(this.topic);
  }

  eventTarget(message: events.RuleTargetInput): events.IRuleTarget {
    const topicArn = this.topic.topicArn;
    // Not aws-events-targets' SnsTopic: it would add an unconditioned EventBridge statement to the topic policy.
    return { bind: () => ({ arn: topicArn, input: message }) };
  }
}
