import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  databaseGroupId,
  ingressRulesOf,
  NO_BUNDLING,
  synthApp,
  type Resource,
  type SynthesizedStage,
} from '../../support/cdk';

// These look at the instance's resources, not at any bundle.
describe.each(['dev', 'prod'] as const)('PostgresInstance in DatabaseStack (%s)', (stage) => {
  let synth: SynthesizedStage;
  beforeAll(() => {
    synth = synthApp({ stage, ...NO_BUNDLING });
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
      Parameters: Match.objectLike({
        log_parameter_max_length: '0',
        log_parameter_max_length_on_error: '0',
        log_error_verbosity: 'terse',
      }),
    });
  });

  it('generates the master credentials into Secrets Manager and rotates them', () => {
    const { database } = synth;
    database.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({
        GenerateStringKey: 'password',
        SecretStringTemplate: Match.stringLikeRegexp('cruddur_admin'),
      }),
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

describe('PostgresInstance options', { timeout: 60_000 }, () => {
  it('admits the admin CIDR in dev when one is given, and only on 5432', () => {
    const synth = synthApp({ stage: 'dev', adminCidr: '203.0.113.7/32', ...NO_BUNDLING });
    const group = synth.database.findResources('AWS::EC2::SecurityGroup')[databaseGroupId(synth)] as Resource;
    expect(group.Properties.SecurityGroupIngress).toEqual([
      expect.objectContaining({ CidrIp: '203.0.113.7/32', FromPort: 5432, ToPort: 5432, IpProtocol: 'tcp' }),
    ]);
    synth.database.hasResourceProperties('AWS::RDS::DBInstance', { PubliclyAccessible: false });
  });

  it('puts the dev database in a public subnet only when asked, together with the admin CIDR', () => {
    const synth = synthApp({ stage: 'dev', adminCidr: '203.0.113.7/32', publicAccess: 'true', ...NO_BUNDLING });
    synth.database.hasResourceProperties('AWS::RDS::DBInstance', { PubliclyAccessible: true });
  });

  it('adds an RDS Proxy with IAM authentication end to end and TLS required', () => {
    const synth = synthApp({ stage: 'prod', proxy: 'true', ...NO_BUNDLING });
    synth.database.hasResourceProperties('AWS::RDS::DBProxy', {
      EngineFamily: 'POSTGRESQL',
      RequireTLS: true,
      DefaultAuthScheme: 'IAM_AUTH',
    });
    // The proxy's role may log in to the instance as signup_writer only.
    synth.database.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'rds-db:connect',
            Resource: { 'Fn::Join': ['', Match.arrayWith(['/signup_writer'])] },
          }),
        ]),
      },
      Roles: [{ Ref: Match.stringLikeRegexp('^ProxyRole') }],
    });
    synth.database.hasOutput('DatabaseProxyEndpoint', {});
  });
});
