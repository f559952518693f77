// The Cognito PreSignUp trigger: refuses a malformed or taken handle before the account exists.
import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { functionAlarms, type FunctionAlarms } from './alarms';
import type { IamDatabase } from './database-client';
import { ProjectFunction } from './project-function';

export interface PreSignUpProps {
  readonly vpc: ec2.IVpc;
  readonly database: IamDatabase;
  /** Its own role, handle_checker: it can only learn whether a handle is taken (sync.handle_taken). */
  readonly databaseUser: string;
  readonly logRetention: logs.RetentionDays;
  /** Unauthenticated callers reach it: its connections are bounded like everyone's (lib/stage.ts). */
  readonly reservedConcurrency: number;
  readonly alarmAction: cloudwatch.IAlarmAction;
}

/**
 * Adds the function and its alarms to `scope` itself, not under a construct of its own, so that their
 * logical ids (PreSignUpFunction..., PreSignUpErrors...) are those of the deployed stack.
 */
export class PreSignUp {
  public readonly fn: ProjectFunction;
  public readonly alarms: FunctionAlarms;

  constructor(scope: Construct, props: PreSignUpProps) {
    this.fn = new ProjectFunction(scope, 'PreSignUpFunction', {
      entry: 'lambdas/pre-sign-up/index.ts',
      description: 'Cognito PreSignUp: refuses a malformed or already-taken handle before the account exists',
      vpc: props.vpc,
      timeout: Duration.seconds(5),
      logRetention: props.logRetention,
      reservedConcurrentExecutions: props.reservedConcurrency,
    });
    props.database.bindClient(this.fn, { user: props.databaseUser, description: 'pre-sign-up to PostgreSQL' });
    this.alarms = functionAlarms(scope, 'PreSignUp', {
      fn: this.fn,
      functionLabel: 'PreSignUp',
      // A failing PreSignUp refuses every sign-up before the account exists: nothing is queued, people just leave.
      errors: 'The PreSignUp function failed: sign-ups are being refused before the account exists',
      // A throttled PreSignUp refuses the sign-up: someone must hear it and raise the concurrency.
      throttles: 'The PreSignUp function was throttled at its reserved concurrency: sign-ups were refused',
      action: props.alarmAction,
    });
  }
}
