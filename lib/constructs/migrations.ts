// The migration function and the trigger that runs it: on every deploy that changes sql/migrations or
// sql/functions, it applies them to the instance as the master user, whose credentials it reads from Secrets
// Manager.
import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as rds from 'aws-cdk-lib/aws-rds';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as triggers from 'aws-cdk-lib/triggers';
import type { Construct } from 'constructs';
import { HTTPS_PORT, POSTGRES_PORT } from '../constants';
import { ProjectFunction } from './project-function';

/** Where the bundle keeps sql/migrations (see the bundling hook below). */
export const BUNDLED_MIGRATIONS_DIR = '/var/task/sql/migrations';
/** Where the bundle keeps sql/functions. */
export const BUNDLED_FUNCTIONS_DIR = '/var/task/sql/functions';

export interface MigrationsProps {
  readonly vpc: ec2.IVpc;
  /** The instance the migrations apply to: the function connects to it directly, never through a proxy. */
  readonly instance: rds.IDatabaseInstance;
  readonly masterSecret: secretsmanager.ISecret;
  readonly databaseName: string;
  /** The function reads the master secret through it. */
  readonly secretsManagerEndpoint: ec2.IInterfaceVpcEndpoint;
  readonly logRetention: logs.RetentionDays;
}

/**
 * The migration function (lambdas/migrate). Its trigger, `MigrateTrigger`, sits beside it in `scope` as its
 * log group and security group do (ProjectFunction): the ids it had when the stack declared it.
 */
export class Migrations extends ProjectFunction {
  public readonly trigger: triggers.Trigger;

  constructor(scope: Construct, id: string, props: MigrationsProps) {
    const { instance } = props;
    super(scope, id, {
      entry: 'lambdas/migrate/index.ts',
      description: 'Applies sql/migrations and sql/functions on deploy (aws-cdk-lib/triggers)',
      vpc: props.vpc,
      timeout: Duration.minutes(2),
      logRetention: props.logRetention,
      environment: {
        DB_SECRET_ARN: props.masterSecret.secretArn,
        DB_HOST: instance.dbInstanceEndpointAddress,
        DB_PORT: instance.dbInstanceEndpointPort,
        DB_NAME: props.databaseName,
        MIGRATIONS_DIR: BUNDLED_MIGRATIONS_DIR,
        FUNCTIONS_DIR: BUNDLED_FUNCTIONS_DIR,
      },
      commandHooks: {
        beforeBundling: () => [],
        beforeInstall: () => [],
        // The migrations and function files ride in the bundle, so a changed file changes the asset hash, the
        // function's version, and so re-runs the trigger. postgres-migrations reads its own first migration from
        // `${__dirname}/migrations`, which in a bundle is the bundle's root.
        afterBundling: (inputDir: string, outputDir: string) => [
          `mkdir -p "${outputDir}/sql" "${outputDir}/migrations"`,
          `cp -R "${inputDir}/sql/migrations" "${outputDir}/sql/migrations"`,
          `cp -R "${inputDir}/sql/functions" "${outputDir}/sql/functions"`,
          `cp "${inputDir}/node_modules/postgres-migrations/dist/migrations/0_create-migrations-table.sql" "${outputDir}/migrations/"`,
        ],
      },
    });
    props.masterSecret.grantRead(this);
    this.connections.allowTo(instance, ec2.Port.tcp(POSTGRES_PORT), 'migrations');
    this.connections.allowTo(props.secretsManagerEndpoint, ec2.Port.tcp(HTTPS_PORT), 'Secrets Manager endpoint');

    this.trigger = new triggers.Trigger(scope, 'MigrateTrigger', {
      handler: this,
      // Runs when the function's code (and so a migration) changes, after the instance and its rules exist.
      executeOnHandlerChange: true,
      executeAfter: [instance, ...instance.connections.securityGroups, this, ...this.connections.securityGroups],
      timeout: Duration.minutes(3),
    });
  }
}
