// The Cognito Post Confirmation trigger: its function, its database login and its alarms.
import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { functionAlarms, type FunctionAlarms } from './alarms';
import type { IamDatabase } from './database-client';
import { ProjectFunction } from './project-function';

export interface PostConfirmationProps {
  readonly vpc: ec2.IVpc;
  readonly database: IamDatabase;
  /** The database user it logs in as (sql/migrations/0002_signup_writer_role.sql). */
  readonly databaseUser: string;
  readonly logRetention: logs.RetentionDays;
  /** Its share of the database's connections (lib/stage.ts); a burst past it is throttled, and alarmed. */
  readonly reservedConcurrency: number;
  readonly alarmAction: cloudwatch.IAlarmAction;
}

/**
 * Adds the function and its alarms to `scope` itself, not under a construct of its own: their logical ids
 * (PostConfirmationFunction..., PostConfirmationErrors...) are those of the deployed stack, and
 * `sam local invoke PostConfirmationFunction` and the runbooks name the function by its construct id.
 */
export class PostConfirmation {
  public readonly fn: ProjectFunction;
  public readonly alarms: FunctionAlarms;

  constructor(scope: Construct, props: PostConfirmationProps) {
    this.fn = new ProjectFunction(scope, 'PostConfirmationFunction', {
      entry: 'lambdas/post-confirmation/index.ts',
      description: 'Cognito Post Confirmation: upserts the confirmed user into public.users',
      vpc: props.vpc,
      // Cognito waits 5 s for a trigger; the code's own budget is 3 s (lambdas/postgres/connection.ts).
      timeout: Duration.seconds(5),
      logRetention: props.logRetention,
      reservedConcurrentExecutions: props.reservedConcurrency,
    });
    props.database.bindClient(this.fn, { user: props.databaseUser, description: 'post-confirmation to PostgreSQL' });
    this.alarms = functionAlarms(scope, 'PostConfirmation', {
      fn: this.fn,
      functionLabel: 'post-confirmation',
      errors: 'The post-confirmation function failed: a confirmed user may be missing from public.users',
      // Throttled means the reserved concurrency is exhausted: Cognito gets an error and the row is not written.
      throttles: 'The post-confirmation function was throttled at its reserved concurrency: sign-ups failed',
      action: props.alarmAction,
    });
  }
}
