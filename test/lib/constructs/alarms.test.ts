import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../lambdas/runtime/logger';
import {
  functionAlarms,
  PERMANENT_FAILURE_NAMESPACE,
  permanentFailureAlarm,
  projectAlarm,
} from '../../../lib/constructs/alarms';
import { NO_BUNDLING, synthApp, type Resource, type SynthesizedStage } from '../../support/cdk';

const TOPIC = 'arn:aws:sns:us-east-1:111111111111:alerts';
const action: cloudwatch.IAlarmAction = { bind: () => ({ alarmActionArn: TOPIC }) };
const metric = new cloudwatch.Metric({ namespace: 'Test', metricName: 'Failures', statistic: cloudwatch.Stats.SUM });

function alarmOf(props: Partial<Parameters<typeof projectAlarm>[2]>): Record<string, unknown> {
  const stack = new Stack();
  projectAlarm(stack, 'Alarm', { description: 'failures happened', metric, threshold: 1, action, ...props });
  const alarms = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm'));
  expect(alarms).toHaveLength(1);
  return (alarms[0] as Resource).Properties;
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
    expect(
      alarmOf({ threshold: 0, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD }),
    ).toMatchObject({
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('notifies its action when it fires and when it recovers', () => {
    const alarm = alarmOf({});
    expect(alarm.AlarmActions).toEqual([TOPIC]);
    expect(alarm.OKActions).toEqual([TOPIC]);
  });
});

describe('functionAlarms', () => {
  function alarmsOf(props: { errors?: string; throttles?: string }) {
    const stack = new Stack(undefined, 'Cruddur-dev-Auth');
    const fn = new lambda.Function(stack, 'Function', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => {};'),
    });
    functionAlarms(stack, 'Thing', { fn, functionLabel: 'thing', action, ...props });
    const alarms = Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm') as Record<string, Resource>;
    return Object.fromEntries(
      Object.entries(alarms).map(([id, alarm]) => [id.replace(/[0-9A-F]{8}$/, ''), alarm.Properties]),
    );
  }

  it('makes the Errors, Throttles and PermanentFailures alarms under the prefix, each with its description', () => {
    const alarms = alarmsOf({ errors: 'it failed', throttles: 'it was throttled' });
    expect(Object.keys(alarms).sort()).toEqual(['ThingErrors', 'ThingPermanentFailures', 'ThingThrottles']);
    expect(alarms.ThingErrors).toMatchObject({ MetricName: 'Errors', AlarmDescription: 'it failed', Threshold: 1 });
    expect(alarms.ThingThrottles).toMatchObject({ MetricName: 'Throttles', AlarmDescription: 'it was throttled' });
    expect(alarms.ThingPermanentFailures).toMatchObject({ MetricName: 'Cruddur-dev-Auth-ThingPermanentFailures' });
    for (const alarm of Object.values(alarms)) expect(alarm.AlarmActions).toEqual([TOPIC]);
  });

  it('makes only the permanent-failure alarm when no other is described', () => {
    expect(Object.keys(alarmsOf({}))).toEqual(['ThingPermanentFailures']);
  });
});

describe('permanentFailureAlarm', () => {
  function synth(): Template {
    const stack = new Stack(undefined, 'Cruddur-dev-Auth');
    const logGroup = new logs.LogGroup(stack, 'FunctionLogGroup');
    permanentFailureAlarm(stack, 'ReplayPermanentFailures', { fn: { logGroup }, functionLabel: 'replay', action });
    return Template.fromStack(stack);
  }

  it('counts the function’s log lines whose top-level failureClass is "permanent"', () => {
    synth().hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: '{ $.failureClass = "permanent" }',
      LogGroupName: { Ref: Match.stringLikeRegexp('^FunctionLogGroup') },
      MetricTransformations: [
        {
          MetricNamespace: PERMANENT_FAILURE_NAMESPACE,
          MetricName: 'Cruddur-dev-Auth-ReplayPermanentFailures',
          MetricValue: '1',
        },
      ],
    });
  });

  it('fires on the first permanent failure within one one-minute period and tells the topic', () => {
    synth().hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: PERMANENT_FAILURE_NAMESPACE,
      MetricName: 'Cruddur-dev-Auth-ReplayPermanentFailures',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmDescription: Match.stringLikeRegexp('^The replay function cannot use the database'),
      AlarmActions: [TOPIC],
      OKActions: [TOPIC],
    });
  });

  describe('the log line it reads', () => {
    afterEach(() => {
      vi.restoreAllMocks();
    });

    // Lambda's JSON log format wraps `console` output in its own record (the text under `message`) and passes a
    // line that is already JSON through as it is: the filter's `$.failureClass` holds only for the second kind.
    it('is one JSON object written straight to stdout, with failureClass at its top level', () => {
      const written: string[] = [];
      vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
        written.push(String(chunk));
        return true;
      });
      const viaConsole = vi.spyOn(console, 'log');
      createLogger({ sub: 'sub-1' }).error('database refused the connection', {
        failureClass: 'permanent',
        errorClass: 'tls',
      });
      expect(viaConsole).not.toHaveBeenCalled();
      expect(written).toHaveLength(1);
      expect(written[0]).toMatch(/^\{.*\}\n$/);
      expect(JSON.parse(written[0]!)).toMatchObject({ level: 'ERROR', failureClass: 'permanent', errorClass: 'tls' });
    });
  });
});

/** Every CloudWatch alarm of every template of the synthesized app, by stack and logical id. */
function alarmsOf(synth: SynthesizedStage): { stack: string; id: string; properties: Record<string, unknown> }[] {
  const found = [];
  for (const file of readdirSync(synth.assemblyDir).filter((name) => name.endsWith('.template.json'))) {
    const template = JSON.parse(readFileSync(join(synth.assemblyDir, file), 'utf8')) as {
      Resources?: Record<string, Resource>;
    };
    for (const [id, resource] of Object.entries(template.Resources ?? {})) {
      if (resource.Type === 'AWS::CloudWatch::Alarm')
        found.push({ stack: file.replace('.template.json', ''), id, properties: resource.Properties });
    }
  }
  return found;
}

function silentAlarms(synth: SynthesizedStage): string[] {
  const silent = (actions: unknown) => !Array.isArray(actions) || actions.length === 0;
  return alarmsOf(synth)
    .filter(({ properties }) => silent(properties.AlarmActions) || silent(properties.OKActions))
    .map(({ stack, id }) => `${stack}/${id}`);
}

/** The alarms this change knows of; other work adds more, which the scan covers all the same. */
const KNOWN_ALARMS = [
  /^PostConfirmationErrors/,
  /^PostConfirmationThrottles/,
  /^PostConfirmationPermanentFailures[0-9A-F]{8}$/,
  /^PreSignUpErrors/,
  /^PreSignUpThrottles/,
  /^PreSignUpPermanentFailures[0-9A-F]{8}$/,
  /^SignupFallbackDeadLetterAlarm/,
  /^SignupFallbackBacklogAlarm/,
  /^ReplayErrors/,
  /^ReplayPermanentFailures[0-9A-F]{8}$/,
  /^DatabaseAlertsFailedDeliveryAlarm/,
  /^ReconcilePermanentFailures[0-9A-F]{8}$/,
];

describe('every alarm of the app', { timeout: 180_000 }, () => {
  const contexts: Record<string, string>[] = [
    { stage: 'dev' },
    { stage: 'prod' },
    { stage: 'prod', proxy: 'true', alarmEmail: 'ops@example.com', allowedRegions: 'eu-west-1,eu-central-1' },
    { stage: 'dev', adminCidr: '203.0.113.7/32', publicAccess: 'true' },
  ];
  for (const context of contexts) {
    it(`notifies the stage’s topic on ALARM and on OK for ${JSON.stringify(context)}`, () => {
      const synth = synthApp({ ...NO_BUNDLING, ...context });
      const alarms = alarmsOf(synth);
      for (const known of KNOWN_ALARMS)
        expect(
          alarms.map(({ id }) => id),
          String(known),
        ).toContainEqual(expect.stringMatching(known));
      expect(silentAlarms(synth)).toEqual([]);
      // ...and it is the stage's topic, not any action: the Alerts stack's export.
      const topicExport = {
        'Fn::ImportValue': expect.stringMatching(/^Cruddur-\w+-Alerts:ExportsOutputRefAlertsTopic/) as unknown,
      };
      for (const { stack, properties } of alarms) {
        const topic = stack.endsWith('-Alerts')
          ? { Ref: expect.stringMatching(/^AlertsTopic/) as unknown }
          : topicExport;
        expect(properties.AlarmActions).toEqual([topic]);
        expect(properties.OKActions).toEqual([topic]);
      }
    });
  }

  it('names an alarm made without the helper, so an empty list means something', () => {
    const synth = synthApp({ ...NO_BUNDLING, stage: 'dev' }, ({ auth }) => {
      new cloudwatch.Alarm(auth, 'ControlAlarm', { metric, threshold: 1, evaluationPeriods: 1 });
      const heardOnlyWhenFiring = new cloudwatch.Alarm(auth, 'ControlWithoutOk', {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
      });
      heardOnlyWhenFiring.addAlarmAction(action);
    });
    expect(silentAlarms(synth).sort()).toEqual([
      expect.stringMatching(/-Auth\/ControlAlarm/),
      expect.stringMatching(/-Auth\/ControlWithoutOk/),
    ]);
  });
});
