// A Cognito trigger's function (or one it calls): in the VPC with its database login, or outside the VPC
// reaching public AWS APIs only; either way with its standard alarms.
import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { functionAlarms, type FunctionAlarms } from './alarms';
import type { IamDatabase } from './database-client';
import { ProjectFunction } from './project-function';

/** What every trigger function of the stage shares. */
export interface TriggerFunctionProps {
  readonly vpc: ec2.IVpc;
  readonly database: IamDatabase;
  /** The database user it logs in as. */
  readonly databaseUser: string;
  readonly logRetention: logs.RetentionDays;
  /** Its share of the database's connections (lib/stage.ts); a burst past it is throttled, and alarmed. */
  readonly reservedConcurrency: number;
  readonly alarmAction: cloudwatch.IAlarmAction;
}

/** What tells one trigger from another. */
export interface TriggerSpec {
  /** The prefix of its ids: `<name>Function`, `<name>Errors`, `<name>Throttles`, `<name>PermanentFailures`. */
  readonly name: string;
  readonly entry: string;
  readonly description: string;
  /** Which function, in the words of its security group rules and notifications. */
  readonly label: string;
  /** Which function, in the words of its permanent-failure notification. @default label */
  readonly alarmLabel?: string;
  /** What a failed invocation costs (the Errors alarm's description). */
  readonly errors: string;
  /** What a throttle costs (the Throttles alarm's description). */
  readonly throttles: string;
  /**
   * Outside the VPC, with no database login: for a function that must call Cognito, which a pool with a domain
   * never answers through the VPC endpoint. The construct id stays `<name>Function` either way, so moving a
   * function out keeps its logical id (CloudFormation updates it in place, dropping its VPC configuration).
   * @default false
   */
  readonly outsideVpc?: boolean;
  /** @default none beyond the database's */
  readonly environment?: Readonly<Record<string, string>>;
}

/**
 * Adds the function and its alarms to `scope` itself, not under a construct of its own: their logical ids
 * are those of the deployed stack, and `sam local invoke <name>Function` and the runbooks name the function
 * by its construct id.
 */
export class TriggerFunction {
  public readonly fn: ProjectFunction;
  public readonly alarms: FunctionAlarms;

  constructor(scope: Construct, spec: TriggerSpec, props: TriggerFunctionProps) {
    this.fn = new ProjectFunction(scope, `${spec.name}Function`, {
      entry: spec.entry,
      description: spec.description,
      ...(spec.outsideVpc === true ? {} : { vpc: props.vpc }),
      environment: spec.environment,
      // Cognito waits 5 s for a trigger, whatever the function's own timeout.
      timeout: Duration.seconds(5),
      logRetention: props.logRetention,
      reservedConcurrentExecutions: props.reservedConcurrency,
    });
    if (spec.outsideVpc !== true) {
      props.database.bindClient(this.fn, { user: props.databaseUser, description: `${spec.label} to PostgreSQL` });
    }
    this.alarms = functionAlarms(scope, spec.name, {
      fn: this.fn,
      functionLabel: spec.alarmLabel ?? spec.label,
      errors: spec.errors,
      throttles: spec.throttles,
      action: props.alarmAction,
    });
  }
}
