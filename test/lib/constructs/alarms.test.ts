import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { describe, expect, it } from 'vitest';
import { projectAlarm } from '../../../lib/constructs/alarms';

const TOPIC = 'arn:aws:sns:us-east-1:111111111111:alerts';
const metric = new cloudwatch.Metric({ namespace: 'Test', metricName: 'Failures', statistic: cloudwatch.Stats.SUM });

function alarmOf(props: Partial<Parameters<typeof projectAlarm>[2]>): Record<string, unknown> {
  const stack = new Stack();
  projectAlarm(stack, 'Alarm', { description: 'failures happened', metric, threshold: 1, ...props });
  const alarms = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm'));
  expect(alarms).toHaveLength(1);
  return (alarms[0] as { Properties: Record<string, unknown> }).Properties;
}

describe('projectAlarm', () => {
  it('fires on one one-minute period at or above the threshold, and treats missing data as healthy', () => {
    expect(alarmOf({})).toMatchObject({
      AlarmDescription: 'failures happened',
      MetricName: 'Failures',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it('keeps the comparison it is given', () => {
    expect(alarmOf({ threshold: 0, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD })).toMatchObject({
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('notifies the action it is given, and nobody without one', () => {
    expect(alarmOf({ action: { bind: () => ({ alarmActionArn: TOPIC }) } }).AlarmActions).toEqual([TOPIC]);
    expect(alarmOf({}).AlarmActions).toBeUndefined();
  });
});
