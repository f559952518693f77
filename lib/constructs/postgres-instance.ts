// The PostgreSQL instance: encrypted, TLS forced, IAM authentication, generated master credentials rotated
// every 30 days, backups, logs exported without values; the cdk-nag acknowledgements of what it deliberately
// is; and, when the stage asks for it, an RDS Proxy with IAM authentication end to end.
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as rds from 'aws-cdk-lib/aws-rds';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { HTTPS_PORT, POSTGRES_PORT } from '../constants';
import type { StageSettings } from '../stage';
import {
  bindIamClient,
  type DatabaseClientOptions,
  type IamDatabase,
  type IamDatabaseEndpoint,
} from './database-client';
import type { WirableFunction } from './project-function';

export interface PostgresInstanceProps {
  /** Instance class, storage, Multi-AZ, backups, deletion, log retention, admin CIDR, public access, proxy. */
  readonly settings: StageSettings;
  readonly vpc: ec2.IVpc;
  readonly engineVersion: rds.PostgresEngineVersion;
  readonly databaseName: string;
  /** The master user: its password is generated into Secrets Manager and rotated. */
  readonly masterUsername: string;
  /** The rotation function reaches Secrets Manager through it. */
  readonly secretsManagerEndpoint: ec2.IInterfaceVpcEndpoint;
}

/**
 * Like ProjectFunction, it puts its companions beside itself in `scope`, under the ids they had when the stack
 * declared them (`<id>SecurityGroup`, `Parameters`, `RotationSecurityGroup`, `ProxyRole`, `ProxySecurityGroup`):
 * nested under the instance they would get new logical ids, and CloudFormation would replace the security
 * groups and the parameter group. So: one PostgresInstance per scope.
 */
export class PostgresInstance extends rds.DatabaseInstance implements IamDatabase {
  /** Admits only the clients bound to it (and the admin CIDR in dev). */
  public readonly securityGroup: ec2.SecurityGroup;
  /** The generated master credentials, rotated every 30 days. */
  public readonly masterSecret: secretsmanager.ISecret;
  public readonly databaseName: string;
  /** Present when the stage sets `proxy`: clients connect here instead of the instance. */
  public readonly proxy?: rds.DatabaseProxy;
  private readonly proxyRole?: iam.Role;

  constructor(scope: Construct, id: string, props: PostgresInstanceProps) {
    const { settings, vpc } = props;
    const securityGroup = new ec2.SecurityGroup(scope, `${id}SecurityGroup`, {
      vpc,
      description: `PostgreSQL: ${POSTGRES_PORT} only from the functions that need it`,
      allowAllOutbound: false,
    });
    if (settings.adminCidr !== undefined) {
      // Dev only (checked in lib/stage.ts): a developer's laptop, one narrow range, never 0.0.0.0/0.
      securityGroup.addIngressRule(ec2.Peer.ipv4(settings.adminCidr), ec2.Port.tcp(POSTGRES_PORT), 'admin CIDR (dev)');
    }
    const engine = rds.DatabaseInstanceEngine.postgres({ version: props.engineVersion });
    const parameterGroup = new rds.ParameterGroup(scope, 'Parameters', {
      engine,
      description: 'TLS only; slow statements logged without values',
      parameters: {
        'rds.force_ssl': '1',
        log_min_duration_statement: '1000',
        // The exported logs must not carry personal data: no bind parameters in statement logs, and no
        // DETAIL lines (a unique violation's DETAIL quotes the handle or the email).
        log_parameter_max_length: '0',
        log_parameter_max_length_on_error: '0',
        log_error_verbosity: 'terse',
        log_connections: '1',
        log_disconnections: '1',
      },
    });

    super(scope, id, {
      engine,
      // A pinned minor with automatic minor upgrades would drift from the template; bump the version instead.
      autoMinorVersionUpgrade: false,
      instanceType: settings.instanceType,
      vpc,
      vpcSubnets: { subnetType: settings.publicAccess ? ec2.SubnetType.PUBLIC : ec2.SubnetType.PRIVATE_ISOLATED },
      publiclyAccessible: settings.publicAccess,
      securityGroups: [securityGroup],
      databaseName: props.databaseName,
      port: POSTGRES_PORT,
      credentials: rds.Credentials.fromGeneratedSecret(props.masterUsername),
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
    this.securityGroup = securityGroup;
    this.databaseName = props.databaseName;
    // fromGeneratedSecret always makes one; the type cannot say so.
    this.masterSecret = this.secret!;
    this.acknowledgeFindings(settings);
    this.addRotation(scope, vpc, props.secretsManagerEndpoint);
    if (settings.proxy) {
      this.proxyRole = new iam.Role(scope, 'ProxyRole', { assumedBy: new iam.ServicePrincipal('rds.amazonaws.com') });
      this.proxy = this.addIamProxy(scope, vpc, this.proxyRole);
    }
  }

  bindClient(fn: WirableFunction, options: DatabaseClientOptions): void {
    bindIamClient(fn, this.clientEndpoint(), options);
  }

  /** The proxy when there is one, else the instance. */
  private clientEndpoint(): IamDatabaseEndpoint {
    const { proxy, proxyRole, databaseName } = this;
    if (proxy === undefined || proxyRole === undefined) {
      return {
        host: this.dbInstanceEndpointAddress,
        port: this.dbInstanceEndpointPort,
        databaseName,
        kind: 'instance',
        target: this,
        grantConnect: (grantee, user) => this.grantConnect(grantee, user),
      };
    }
    return {
      host: proxy.endpoint,
      port: String(POSTGRES_PORT),
      databaseName,
      kind: 'proxy',
      target: proxy,
      grantConnect: (grantee, user) => {
        // End-to-end IAM: the proxy logs in to the instance as the client's user with its own token, so
        // its role may log in as exactly the users of the clients bound through it.
        this.grantConnect(proxyRole, user);
        return proxy.grantConnect(grantee, user);
      },
    };
  }

  private acknowledgeFindings(settings: StageSettings): void {
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-RDS11',
      reason:
        'The default port is kept: a non-default port is obscurity; the security group admits only the functions.',
    });
    this.acknowledgeLogRetentionFunction();
    if (settings.publicAccess) {
      Validations.of(this).acknowledge({
        id: 'CloudFormation-Validate::W9011',
        reason:
          'Dev only, opted into with -c publicAccess=true, and only together with an admin CIDR of /24 or narrower (lib/stage.ts).',
      });
    }
    if (!settings.multiAz) {
      Validations.of(this).acknowledge({
        id: 'AwsSolutions-RDS3',
        reason: 'Dev runs single-AZ to save cost; prod is Multi-AZ (lib/stage.ts).',
      });
    }
    if (!settings.deletionProtection) {
      Validations.of(this).acknowledge({
        id: 'AwsSolutions-RDS10',
        reason: 'Dev is disposable; prod has deletion protection (lib/stage.ts).',
      });
    }
  }

  /**
   * `cloudwatchLogsRetention` is applied by CDK's own singleton LogRetention function in the stack (RDS
   * creates the log groups itself, after the instance exists, so they cannot be declared here without a
   * name race).
   */
  private acknowledgeLogRetentionFunction(): void {
    const singleton = Stack.of(this).node.children.find((child) => child.node.id.startsWith('LogRetention'));
    if (singleton === undefined) return;
    const reason =
      'CDK-managed LogRetention function that sets retention on the RDS log groups; its policy is written by aws-cdk-lib.';
    Validations.of(singleton).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason,
    });
    Validations.of(singleton).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: `${reason} logs:PutRetentionPolicy is granted on all log groups because the RDS log group names are known only after deploy.`,
    });
  }

  /**
   * The rotation function (a Secrets Manager application) runs in the isolated subnets too: it reaches
   * Secrets Manager through the endpoint and the database on 5432, nothing else.
   */
  private addRotation(scope: Construct, vpc: ec2.IVpc, secretsManagerEndpoint: ec2.IInterfaceVpcEndpoint): void {
    const securityGroup = new ec2.SecurityGroup(scope, 'RotationSecurityGroup', {
      vpc,
      description: 'Master secret rotation: Secrets Manager endpoint and the database only',
      allowAllOutbound: false,
    });
    securityGroup.connections.allowTo(secretsManagerEndpoint, ec2.Port.tcp(HTTPS_PORT), 'Secrets Manager endpoint');
    this.addRotationSingleUser({
      automaticallyAfter: Duration.days(30),
      securityGroup,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      // Not during the deploy that creates it: the migration trigger reads the same secret at that moment.
      rotateImmediatelyOnUpdate: false,
    });
  }

  private addIamProxy(scope: Construct, vpc: ec2.IVpc, role: iam.Role): rds.DatabaseProxy {
    const securityGroup = new ec2.SecurityGroup(scope, 'ProxySecurityGroup', {
      vpc,
      description: `RDS Proxy: ${POSTGRES_PORT} from the functions, ${POSTGRES_PORT} to the database`,
      allowAllOutbound: false,
    });
    const proxy = this.addProxy('Proxy', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [securityGroup],
      role,
      defaultAuthScheme: rds.DefaultAuthScheme.IAM_AUTH,
      requireTLS: true,
      // Connections beyond this wait (borrowTimeout) instead of exhausting max_connections.
      maxConnectionsPercent: 80,
      borrowTimeout: Duration.seconds(2),
    });
    proxy.connections.allowToDefaultPort(this, 'proxy to database');
    return proxy;
  }
}
