// The database: RDS PostgreSQL in the private isolated subnets (lib/constructs/postgres-instance.ts), the
// migration function that runs on every deploy that changes sql/migrations (lib/constructs/migrations.ts),
// optionally an RDS Proxy; and the one way a function becomes a client of it (`bindClient`).
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import type { Construct } from 'constructs';
import type { AlertChannel } from './constructs/alerts';
import type { DatabaseClientOptions, IamDatabase } from './constructs/database-client';
import { DatabaseAlerts } from './constructs/database-alerts';
import { Migrations } from './constructs/migrations';
import { OperatorAccess } from './constructs/operator-access';
import { PostgresInstance } from './constructs/postgres-instance';
import type { WirableFunction } from './constructs/project-function';
import { connectionLimits, type StageSettings } from './stage';

/** Pinned: the newest PostgreSQL 17 minor aws-cdk-lib 2.276 knows; the tests run PostgreSQL 17 too. */
export const ENGINE_VERSION = rds.PostgresEngineVersion.VER_17_9;
export const DATABASE_NAME = 'cruddur';
export const MASTER_USERNAME = 'cruddur_admin';
/** The least-privilege role of sql/migrations/0002_signup_writer_role.sql. */
export const SIGNUP_WRITER = 'signup_writer';

export interface DatabaseStackProps extends StackProps {
  readonly settings: StageSettings;
  readonly vpc: ec2.IVpc;
  /** The migration function and the rotation function read the master secret through it. */
  readonly secretsManagerEndpoint: ec2.IInterfaceVpcEndpoint;
  /** The stage's alerts topic: risky changes to the database and every alarm of the stack go there. */
  readonly alerts: AlertChannel;
  /** Where interface endpoints go (NetworkStack.endpointSubnets). @default every isolated subnet */
  readonly endpointSubnets?: ec2.SubnetSelection;
}

export class DatabaseStack extends Stack implements IamDatabase {
  public readonly db: PostgresInstance;
  public readonly databaseSecurityGroup: ec2.ISecurityGroup;
  public readonly databaseName = DATABASE_NAME;
  public readonly migrateFunction: Migrations;
  /** Present with `-c proxy=true`: clients connect here instead of the instance. */
  public readonly proxy?: rds.DatabaseProxy;
  /** The rule that tells the topic when the database is made public, unprotected, deleted or opened. */
  public readonly databaseAlerts: DatabaseAlerts;
  /** Present with `-c operatorAccess=true`: the Session Manager host `npm run db -- tunnel` forwards through. */
  public readonly operatorAccess?: OperatorAccess;

  constructor(scope: Construct, id: string, props: DatabaseStackProps) {
    super(scope, id, props);
    const { settings, vpc, secretsManagerEndpoint } = props;

    this.db = new PostgresInstance(this, 'Database', {
      settings,
      vpc,
      engineVersion: ENGINE_VERSION,
      databaseName: DATABASE_NAME,
      masterUsername: MASTER_USERNAME,
      secretsManagerEndpoint,
    });
    this.databaseSecurityGroup = this.db.securityGroup;
    this.proxy = this.db.proxy;

    this.migrateFunction = new Migrations(this, 'MigrateFunction', {
      vpc,
      instance: this.db,
      masterSecret: this.db.masterSecret,
      databaseName: DATABASE_NAME,
      secretsManagerEndpoint,
      logRetention: settings.logRetention,
    });
    // Each function role's CONNECTION LIMIT, from the stage's concurrency arithmetic (lib/stage.ts).
    this.migrateFunction.addEnvironment('CONNECTION_LIMITS', JSON.stringify(connectionLimits(settings)));

    this.databaseAlerts = new DatabaseAlerts(this, 'DatabaseAlerts', {
      instanceIdentifier: this.db.instanceIdentifier,
      securityGroupId: this.databaseSecurityGroup.securityGroupId,
      alerts: props.alerts,
      stage: settings.stage,
    });

    new CfnOutput(this, 'DatabaseEndpoint', {
      value: this.db.dbInstanceEndpointAddress,
      description: 'PostgreSQL host',
    });
    new CfnOutput(this, 'DatabaseSecretArn', {
      value: this.db.masterSecret.secretArn,
      description: 'Master credentials (rotated)',
    });
    new CfnOutput(this, 'DatabaseSecurityGroupId', { value: this.databaseSecurityGroup.securityGroupId });
    new CfnOutput(this, 'DatabaseInstanceId', { value: this.db.instanceIdentifier });
    if (this.proxy) new CfnOutput(this, 'DatabaseProxyEndpoint', { value: this.proxy.endpoint });

    if (settings.operatorAccess) {
      // To the instance, not the proxy: an operator's session is one connection, and the tunnel names DatabaseEndpoint.
      this.operatorAccess = new OperatorAccess(this, 'OperatorAccess', {
        vpc,
        database: this.db,
        ...(props.endpointSubnets === undefined ? {} : { endpointSubnets: props.endpointSubnets }),
      });
      // `npm run db -- tunnel --stage <stage>` finds the host by this output.
      new CfnOutput(this, 'OperatorInstanceId', {
        value: this.operatorAccess.instance.instanceId,
        description: 'Session Manager target of npm run db -- tunnel',
      });
    }
  }

  bindClient(fn: WirableFunction, options: DatabaseClientOptions): void {
    this.db.bindClient(fn, options);
  }
}
