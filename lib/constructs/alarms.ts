// Every alarm of the project is made here, so that they all look at the same one-minute periods, treat a
// quiet metric as healthy, and tell the stage's topic both when they fire and when they recover.
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/** One period is enough to fire: each of these alarms means a sign-up is failing or waiting now. */
export const ALARM_PERIOD = Duration.minutes(1);

export interface ProjectAlarmProps {
  /** What has gone wrong and what it costs; the text an operator reads in the notification. */
  readonly description: string;
  /** The metric with its statistic; its period is set to `period`. */
  readonly metric: cloudwatch.Metric;
  /**
   * For a metric that means something only summed over a longer time (a day's drift).
   * @default ALARM_PERIOD
   */
  readonly period?: Duration;
  readonly threshold: number;
  /** @default cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD */
  readonly comparisonOperator?: cloudwatch.ComparisonOperator;
  /**
   * The stage's topic (lib/constructs/alerts.ts), notified on ALARM and on OK. Required: an alarm nobody
   * hears is a dashboard, and the type system is the cheapest place to refuse one.
   */
  readonly action: cloudwatch.IAlarmAction;
}

export function projectAlarm(scope: Construct, id: string, props: ProjectAlarmProps): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, id, {
    alarmDescription: props.description,
    metric: props.metric.with({ period: props.period ?? ALARM_PERIOD }),
    threshold: props.threshold,
    evaluationPeriods: 1,
    comparisonOperator: props.comparisonOperator ?? cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    // No data means no invocations or an empty queue: nothing is failing.
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  alarm.addAlarmAction(props.action);
  // OK too: whoever was paged learns that it is over without opening the console.
  alarm.addOkAction(props.action);
  return alarm;
}

/**
 * The functions log a refused database connection at ERROR with `failureClass` ("permanent" or "transient")
 * and `errorClass` (tls, hostname, auth, role_missing, privilege, no_credentials, ...). Their logger writes
 * one JSON object a line to stdout itself (lambdas/runtime/logger.ts), not through `console`: with the
 * functions' JSON log format Lambda structures only `console` output and passes lines that are already JSON
 * through unchanged, so the fields are at the top level of the event, where `$.failureClass` finds them.
 */
export const PERMANENT_FAILURE_PATTERN = logs.FilterPattern.stringValue('$.failureClass', '=', 'permanent');

/** A function whose log group the permanent-failure filter reads (a ProjectFunction is one). */
export interface LoggingFunction {
  readonly logGroup: logs.ILogGroup;
}

export interface PermanentFailureAlarmProps {
  readonly fn: LoggingFunction;
  /** Which function, in the words of the notification: "post-confirmation", "replay". */
  readonly functionLabel: string;
  readonly action: cloudwatch.IAlarmAction;
}

/** Metric namespace of the permanent-failure filters; the metric name is `<stack name>-<id>`. */
export const PERMANENT_FAILURE_NAMESPACE = 'Cruddur/PermanentDatabaseFailures';

/**
 * A metric filter on the function's log group counting permanent database failures, and an alarm that fires
 * on the first one: a wrong CA, host name, role or grant does not pass with time, so waiting for the queue's
 * backlog or dead-letter alarms (an hour or more later) only delays the fix. One call per database function.
 */
export function permanentFailureAlarm(
  scope: Construct,
  id: string,
  props: PermanentFailureAlarmProps,
): cloudwatch.Alarm {
  // The stack name carries the stage: dev and prod in one account and region never share a metric.
  const metricName = `${Stack.of(scope).stackName}-${id}`;
  const filter = new logs.MetricFilter(scope, `${id}Filter`, {
    logGroup: props.fn.logGroup,
    filterPattern: PERMANENT_FAILURE_PATTERN,
    metricNamespace: PERMANENT_FAILURE_NAMESPACE,
    metricName,
    metricValue: '1',
  });
  return projectAlarm(scope, id, {
    description:
      `The ${props.functionLabel} function cannot use the database for a reason that will not pass by itself ` +
      '(TLS, host name, login, role or grant): sign-ups wait in the queue until the deploy is fixed. ' +
      'Read errorClass in its log (docs/failure-modes.md)',
    metric: filter.metric({ statistic: cloudwatch.Stats.SUM }),
    threshold: 1,
    action: props.action,
  });
}

/** A function whose standard alarms functionAlarms makes: a ProjectFunction is one. */
export interface AlarmedFunction extends LoggingFunction {
  metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricThrottles(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

export interface FunctionAlarmsProps {
  readonly fn: AlarmedFunction;
  /** Which function, in the words of the permanent-failure notification: "post-confirmation", "replay". */
  readonly functionLabel: string;
  /** What a failed invocation costs, in the Errors alarm's description. @default no Errors alarm */
  readonly errors?: string;
  /**
   * What a throttle costs, in the Throttles alarm's description: for a function with reserved concurrency,
   * where a burst past it is refused. @default no Throttles alarm
   */
  readonly throttles?: string;
  readonly action: cloudwatch.IAlarmAction;
}

export interface FunctionAlarms {
  readonly errors?: cloudwatch.Alarm;
  readonly throttles?: cloudwatch.Alarm;
  readonly permanentFailures: cloudwatch.Alarm;
}

/**
 * A database function's standard alarms, in `scope` with ids `<prefix>Errors`, `<prefix>Throttles` and
 * `<prefix>PermanentFailures` (the permanent-failure metric is named after its id): each fires on the first
 * occurrence in a minute.
 */
export function functionAlarms(scope: Construct, prefix: string, props: FunctionAlarmsProps): FunctionAlarms {
  const { fn, action } = props;
  // Either fires on the first failed or throttled invocation in a minute.
  const invocationAlarm = (kind: 'Errors' | 'Throttles', description: string | undefined, metric: cloudwatch.Metric) =>
    description === undefined
      ? undefined
      : projectAlarm(scope, `${prefix}${kind}`, { description, metric, threshold: 1, action });
  const errors = invocationAlarm('Errors', props.errors, fn.metricErrors({ statistic: cloudwatch.Stats.SUM }));
  const throttles = invocationAlarm(
    'Throttles',
    props.throttles,
    fn.metricThrottles({ statistic: cloudwatch.Stats.SUM }),
  );
  const permanentFailures = permanentFailureAlarm(scope, `${prefix}PermanentFailures`, {
    fn,
    functionLabel: props.functionLabel,
    action,
  });
  return { ...(errors ? { errors } : {}), ...(throttles ? { throttles } : {}), permanentFailures };
}
