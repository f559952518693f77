// The database: RDS PostgreSQL in the private isolated subnets, encrypted, TLS forced, IAM authentication,
// generated and rotated master credentials, backups, logs exported; the migration function that runs on
// every deploy that changes sql/migrations; optionally an RDS Proxy with IAM authentication end to end.
import { CfnOutput, Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as triggers from 'aws-cdk-lib/triggers';
import type { Construct } from 'constructs';
import { ProjectFunction } from './constructs/project-function';
import type { StageSettings } from './stage';

/** Pinned: the newest PostgreSQL 17 minor aws-cdk-lib 2.276 knows; the tests run PostgreSQL 17 too. */
export const ENGINE_VERSION = rds.PostgresEngineVersion.VER_17_9;
export const DATABASE_NAME = 'cruddur';
export const POSTGRES_PORT = 5432;
export const MASTER_USERNAME = 'cruddur_admin';
/** The least-privilege role of sql/migrations/0002_signup_writer_role.sql. */
export const SIGNUP_WRITER = 'signup_writer';
/** Where the migration bundle keeps sql/migrations (see the bundling hook below). */
const BUNDLED_MIGRATIONS_DIR = '/var/task/sql/migrations';

export interface DatabaseStackProps extends StackProps {
  readonly settings: StageSettings;
  readonly vpc: ec2.IVpc;
  /** The migration function and the rotation function read the master secret through it. */
  readonly secretsManagerEndpoint: ec2.IInterfaceVpcEndpoint;
}

export class DatabaseStack extends Stack {
  public readonly db: rds.DatabaseInstance;
  public readonly databaseSecurityGroup: ec2.SecurityGroup;
  public readonly databaseName = DATABASE_NAME;
  public readonly migrateFunction: ProjectFunction;
  /** Present with `-c proxy=true`: clients connect here instead of the instance. */
  public readonly proxy?: rds.DatabaseProxy;

  constructor(scope: Construct, id: string, props: DatabaseStackProps) {
    super(scope, id, props);
    const { settings, vpc } = props;

    this.databaseSecurityGroup = new ec2.SecurityGroup(this, 'DatabaseSecurityGroup', {
      vpc,
      description: 'PostgreSQL: 5432 only from the functions that need it',
      allowAllOutbound: false,
    });
    if (settings.adminCidr !== undefined) {
      // Dev only (checked in lib/stage.ts): the seeds' laptop workflow, one narrow range, never 0.0.0.0/0.
      this.databaseSecurityGroup.addIngressRule(ec2.Peer.ipv4(settings.adminCidr), ec2.Port.tcp(POSTGRES_PORT), 'admin CIDR (dev)');
    }

    const parameterGroup = new rds.ParameterGroup(this, 'Parameters', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: ENGINE_VERSION }),
      description: 'TLS only; slow statements logged without values',
      parameters: {
        'rds.force_ssl': '1',
        'log_min_duration_statement': '1000',
        // The exported logs must not carry personal data: no bind parameters in statement logs, and no
        // DETAIL lines (a unique violation's DETAIL quotes the handle or the email).
        'log_parameter_max_length': '0',
        'log_parameter_max_length_on_error': '0',
        'log_error_verbosity': 'terse',
        'log_connections': '1',
        'log_disconnections': '1',
      },
    });

    this.db = new rds.DatabaseInstance(this, 'Database', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: ENGINE_VERSION }),
      // A pinned minor with automatic minor upgrades would drift from the template; bump ENGINE_VERSION instead.
      autoMinorVersionUpgrade: false,
      instanceType: settings.instanceType,
      vpc,
      vpcSubnets: { subnetType: settings.publicAccess ? ec2.SubnetType.PUBLIC : ec2.SubnetType.PRIVATE_ISOLATED },
      publiclyAccessible: settings.publicAccess,
      securityGroups: [this.databaseSecurityGroup],
      databaseName: DATABASE_NAME,
      port: POSTGRES_PORT,
      credentials: rds.Credentials.fromGeneratedSecret(MASTER_USERNAME),
      parameterGroup,
      storageType: rds.StorageType.GP3,
      allocatedStorage: settings.allocatedStorageGiB,
      maxAllocatedStorage: settings.maxAllocatedStorageGiB,
      storageEncrypted: true,
      iamAuthentication: true,
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
      multiAz: settings.multiAz,
      backupRetention: settings.backupRetention,
      copyTagsToSnapshot: true,
      deletionProtection: settings.deletionProtection,
      removalPolicy: settings.removalPolicy,
      enablePerformanceInsights: true,
      performanceInsightRetention: rds.PerformanceInsightRetention.DEFAULT,
      cloudwatchLogsExports: ['postgresql', 'upgrade'],
      cloudwatchLogsRetention: settings.logRetention,
    });
    Validations.of(this.db).acknowledge({
      id: 'AwsSolutions-RDS11',
      reason: 'The default port is kept: a non-default port is obscurity; the security group admits only the functions.',
    });
    this.acknowledgeLogRetentionFunction();
    if (settings.publicAccess) {
      Validations.of(this.db).acknowledge({
        id: 'CloudFormation-Validate::W9011',
        reason: 'Dev only, opted into with -c publicAccess=true, and only together with an admin CIDR of /24 or narrower (lib/stage.ts).',
      });
    }
    if (!settings.multiAz) {
      Validations.of(this.db).acknowledge({ id: 'AwsSolutions-RDS3', reason: 'Dev runs single-AZ to save cost; prod is Multi-AZ (lib/stage.ts).' });
    }
    if (!settings.deletionProtection) {
      Validations.of(this.db).acknowledge({ id: 'AwsSolutions-RDS10', reason: 'Dev is disposable; prod has deletion protection (lib/stage.ts).' });
    }

    // The rotation function (a Secrets Manager application) runs in the isolated subnets too: it reaches
    // Secrets Manager through the endpoint and the database on 5432, nothing else.
    const rotationSecurityGroup = new ec2.SecurityGroup(this, 'RotationSecurityGroup', {
      vpc,
      description: 'Master secret rotation: Secrets Manager endpoint and the database only',
      allowAllOutbound: false,
    });
    rotationSecurityGroup.connections.allowTo(props.secretsManagerEndpoint, ec2.Port.tcp(443), 'Secrets Manager endpoint');
    this.db.addRotationSingleUser({
      automaticallyAfter: Duration.days(30),
      securityGroup: rotationSecurityGroup,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      // Not during the deploy that creates it: the migration trigger reads the same secret at that moment.
      rotateImmediatelyOnUpdate: false,
    });

    this.migrateFunction = new ProjectFunction(this, 'MigrateFunction', {
      entry: 'lambdas/migrate/index.ts',
      description: 'Applies sql/migrations on deploy (aws-cdk-lib/triggers)',
      vpc,
      timeout: Duration.minutes(2),
      logRetention: settings.logRetention,
      environment: {
        DB_SECRET_ARN: this.db.secret!.secretArn,
        DB_HOST: this.db.dbInstanceEndpointAddress,
        DB_PORT: this.db.dbInstanceEndpointPort,
        DB_NAME: DATABASE_NAME,
        MIGRATIONS_DIR: BUNDLED_MIGRATIONS_DIR,
        NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
      },
      commandHooks: {
        beforeBundling: () => [],
        beforeInstall: () => [],
        // The migrations ride in the bundle, so a changed migration changes the asset hash, the function's
        // version, and so re-runs the trigger. postgres-migrations reads its own first migration from
        // `${__dirname}/migrations`, which in a bundle is the bundle's root.
        afterBundling: (inputDir: string, outputDir: string) => [
          `mkdir -p "${outputDir}/sql" "${outputDir}/migrations"`,
          `cp -R "${inputDir}/sql/migrations" "${outputDir}/sql/migrations"`,
          `cp "${inputDir}/node_modules/postgres-migrations/dist/migrations/0_create-migrations-table.sql" "${outputDir}/migrations/"`,
        ],
      },
    });
    this.db.secret!.grantRead(this.migrateFunction);
    this.migrateFunction.connections.allowTo(this.db, ec2.Port.tcp(POSTGRES_PORT), 'migrations');
    this.migrateFunction.connections.allowTo(props.secretsManagerEndpoint, ec2.Port.tcp(443), 'Secrets Manager endpoint');

    new triggers.Trigger(this, 'MigrateTrigger', {
      handler: this.migrateFunction,
      // Runs when the function's code (and so a migration) changes, after the instance and its rules exist.
      executeOnHandlerChange: true,
      executeAfter: [this.db, this.databaseSecurityGroup, this.migrateFunction, this.migrateFunction.securityGroup],
      timeout: Duration.minutes(3),
    });

    if (settings.proxy) this.proxy = this.addProxy(vpc);

    new CfnOutput(this, 'DatabaseEndpoint', { value: this.db.dbInstanceEndpointAddress, description: 'PostgreSQL host' });
    new CfnOutput(this, 'DatabaseSecretArn', { value: this.db.secret!.secretArn, description: 'Master credentials (rotated)' });
    new CfnOutput(this, 'DatabaseSecurityGroupId', { value: this.databaseSecurityGroup.securityGroupId });
    new CfnOutput(this, 'DatabaseInstanceId', { value: this.db.instanceIdentifier });
    if (this.proxy) new CfnOutput(this, 'DatabaseProxyEndpoint', { value: this.proxy.endpoint });
  }

  /** The host and port the post-confirmation function connects to: the proxy when there is one. */
  get connectEndpoint(): { readonly host: string; readonly port: string } {
    return this.proxy
      ? { host: this.proxy.endpoint, port: '5432' }
      : { host: this.db.dbInstanceEndpointAddress, port: this.db.dbInstanceEndpointPort };
  }

  /** What the post-confirmation function opens 5432 to: the proxy when there is one. */
  get connectTarget(): ec2.IConnectable {
    return this.proxy ?? this.db;
  }

  /** Lets `grantee` log in as `dbUser` with IAM authentication, through the proxy if there is one. */
  grantDatabaseConnect(grantee: iam.IGrantable, dbUser: string): iam.Grant {
    return this.proxy ? this.proxy.grantConnect(grantee, dbUser) : this.db.grantConnect(grantee, dbUser);
  }

  private addProxy(vpc: ec2.IVpc): rds.DatabaseProxy {
    const role = new iam.Role(this, 'ProxyRole', { assumedBy: new iam.ServicePrincipal('rds.amazonaws.com') });
    // End-to-end IAM: the proxy logs in to the instance as the client's role with its own IAM token.
    this.db.grantConnect(role, SIGNUP_WRITER);
    const proxySecurityGroup = new ec2.SecurityGroup(this, 'ProxySecurityGroup', {
      vpc,
      description: 'RDS Proxy: 5432 from the functions, 5432 to the database',
      allowAllOutbound: false,
    });
    const proxy = this.db.addProxy('Proxy', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [proxySecurityGroup],
      role,
      defaultAuthScheme: rds.DefaultAuthScheme.IAM_AUTH,
      requireTLS: true,
      // Connections beyond this wait (borrowTimeout) instead of exhausting max_connections.
      maxConnectionsPercent: 80,
      borrowTimeout: Duration.seconds(2),
    });
    proxy.connections.allowToDefaultPort(this.db, 'proxy to database');
    return proxy;
  }

  /**
   * `cloudwatchLogsRetention` is applied by CDK's own singleton LogRetention function (RDS creates the log
   * groups itself, after the instance exists, so they cannot be declared here without a name race).
   */
  private acknowledgeLogRetentionFunction(): void {
    const singleton = this.node.children.find((child) => child.node.id.startsWith('LogRetention'));
    if (singleton === undefined) return;
    const reason = 'CDK-managed LogRetention function that sets retention on the RDS log groups; its policy is written by aws-cdk-lib.';
    Validations.of(singleton).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason,
    });
    Validations.of(singleton).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: `${reason} logs:PutRetentionPolicy is granted on all log groups because the RDS log group names are known only after deploy.`,
    });
  }
}
