// Every alarm of the project is made here, so that they all look at the same one-minute periods, treat a
// quiet metric as healthy, and notify the same action once there is one.
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';

/** One period is enough to fire: each of these alarms means a sign-up is failing or waiting now. */
export const ALARM_PERIOD = Duration.minutes(1);

export interface ProjectAlarmProps {
  /** What has gone wrong and what it costs; the text an operator reads in the notification. */
  readonly description: string;
  /** The metric with its statistic; its period is set to ALARM_PERIOD. */
  readonly metric: cloudwatch.Metric;
  readonly threshold: number;
  /** @default cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD */
  readonly comparisonOperator?: cloudwatch.ComparisonOperator;
  /** Notified when the alarm fires. @default - none (the stage's topic comes with a later issue) */
  readonly action?: cloudwatch.IAlarmAction;
}

export function projectAlarm(scope: Construct, id: string, props: ProjectAlarmProps): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, id, {
    alarmDescription: props.description,
    metric: props.metric.with({ period: ALARM_PERIOD }),
    threshold: props.threshold,
    evaluationPeriods: 1,
    comparisonOperator: props.comparisonOperator ?? cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    // No data means no invocations or an empty queue: nothing is failing.
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  if (props.action !== undefined) alarm.addAlarmAction(props.action);
  return alarm;
}
