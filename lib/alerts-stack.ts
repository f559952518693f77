// The stage's alert topic in a stack of its own: every other stack's alarms point at it, so it is deployed
// first, and replacing or deleting another stack never takes the notifications down with it.
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Alerts } from './constructs/alerts';
import type { StageSettings } from './stage';

export interface AlertsStackProps extends StackProps {
  readonly settings: StageSettings;
}

export class AlertsStack extends Stack {
  public readonly alerts: Alerts;

  constructor(scope: Construct, id: string, props: AlertsStackProps) {
    super(scope, id, props);
    this.alerts = new Alerts(this, 'Alerts', { stage: props.settings.stage, alarmEmail: props.settings.alarmEmail });
    // What `aws sns subscribe --topic-arn` needs to add a pager, a chat channel or a second address.
    new CfnOutput(this, 'AlertsTopicArn', {
      value: this.alerts.topic.topicArn,
      description: 'Every alarm and alert of the stage',
    });
  }
}
