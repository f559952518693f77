// Custom metrics as CloudWatch embedded metric format (EMF) lines: one JSON object on a line of stdout, from
// which CloudWatch Logs extracts the metrics, with no PutMetricData call and no extra permission
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Lambda.html).
// Written to stdout directly, as the logger writes (logger.ts): with the functions' JSON log format Lambda passes
// a line that is already JSON through unchanged, so the `_aws` key stays at the top of the event.
import type { LogSink } from './logger';

/** The namespace of every custom metric of this project. */
export const METRICS_NAMESPACE = 'Cruddur';

export interface MetricsLine {
  /** Dimension name -> value: where an alarm finds the metric (FunctionName keeps dev and prod apart). */
  readonly dimensions: Readonly<Record<string, string>>;
  /** Metric name -> value, each a count. */
  readonly counts: Readonly<Record<string, number>>;
  /** Epoch ms. */
  readonly timestamp: number;
}

/** One EMF line (no newline) for `line` in METRICS_NAMESPACE. */
export function emfLine(line: MetricsLine): string {
  return JSON.stringify({
    _aws: {
      Timestamp: line.timestamp,
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [Object.keys(line.dimensions)],
          Metrics: Object.keys(line.counts).map((name) => ({ Name: name, Unit: 'Count' })),
        },
      ],
    },
    ...line.dimensions,
    ...line.counts,
  });
}

export type MetricsSink = LogSink;

export const stdoutMetrics: MetricsSink = (line) => process.stdout.write(`${line}\n`);
