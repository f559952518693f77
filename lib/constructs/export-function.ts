// A person's data on request (GDPR art. 15 and 20), in AWS: the export (lambdas/export) as a function in the VPC,
// logged in to the database as user_exporter, which may only call export.user_data. Nothing invokes it on its
// own: an operator runs `npm run users -- export <sub> --stage <stage>`, which finds it by the stack's
// ExportFunctionName output and needs the managed policy below to invoke it.
import { Duration } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { IamDatabase } from './database-client';
import { ProjectFunction } from './project-function';

/** The PostgreSQL role the export function logs in as (sql/migrations/0006_groups_and_export.sql). */
export const EXPORT_DATABASE_USER = 'user_exporter';

export interface ExportFunctionProps {
  readonly vpc: ec2.IVpc;
  readonly database: IamDatabase;
  /** @default EXPORT_DATABASE_USER (user_exporter) */
  readonly databaseUser?: string;
  readonly logRetention: logs.RetentionDays;
  /**
   * Principals (an operators' role or group) that may invoke the function, given the invoke policy here.
   * @default none: attach `invokePolicy` to whoever runs exports
   */
  readonly operators?: readonly iam.IRole[];
}

export class ExportFunction extends Construct {
  public readonly fn: ProjectFunction;
  /**
   * lambda:InvokeFunction on this function, nothing else: what an operator's identity needs for `users export
   * --stage`. No function role and no service holds it.
   */
  public readonly invokePolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: ExportFunctionProps) {
    super(scope, id);

    this.fn = new ProjectFunction(this, 'Function', {
      entry: 'lambdas/export/index.ts',
      description: "Exports one person's data as JSON (export.user_data), for an operator's users export",
      vpc: props.vpc,
      logRetention: props.logRetention,
      // One statement (the role's statement_timeout is 10 s) plus a cold connect with an IAM token.
      timeout: Duration.seconds(30),
      // One export at a time: it is a person's request handled by hand, and the role has two connections.
      reservedConcurrentExecutions: 1,
    });
    props.database.bindClient(this.fn, {
      user: props.databaseUser ?? EXPORT_DATABASE_USER,
      description: 'export to PostgreSQL',
    });

    this.invokePolicy = new iam.ManagedPolicy(this, 'InvokePolicy', {
      description: 'Run npm run users -- export --stage: invoke the export function, nothing else',
      statements: [
        new iam.PolicyStatement({
          actions: ['lambda:InvokeFunction'],
          // The unqualified function only: no version or alias wildcard.
          resources: [this.fn.functionArn],
        }),
      ],
      roles: [...(props.operators ?? [])],
    });
  }
}
