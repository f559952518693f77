import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { stageSettings } from '../../../lib/stage';
import { NO_BUNDLING, synthApp, type Resource } from '../../support/cdk';

function only(template: Template, type: string, idPart: string): [string, Resource] {
  const found = Object.entries(template.findResources(type)).filter(([id]) => id.includes(idPart)) as [
    string,
    Resource,
  ][];
  expect(found, `${type} ${idPart}`).toHaveLength(1);
  return found[0]!;
}

type Statement = {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};

describe.each(['dev', 'prod'] as const)('the audit trail (%s)', (stage) => {
  let auth: Template;
  let keyId: string;
  beforeAll(() => {
    auth = synthApp({ stage, ...NO_BUNDLING }).auth;
    [keyId] = only(auth, 'AWS::KMS::Key', 'AuditTrailKey');
  });

  it('logs write management events of this region, encrypted with its own key, with log file validation', () => {
    auth.resourceCountIs('AWS::CloudTrail::Trail', 1);
    auth.hasResourceProperties('AWS::CloudTrail::Trail', {
      TrailName: `Cruddur-${stage}-Auth-audit`,
      IsLogging: true,
      EnableLogFileValidation: true,
      IsMultiRegionTrail: false,
      IncludeGlobalServiceEvents: false,
      KMSKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
      EventSelectors: [{ IncludeManagementEvents: true, ReadWriteType: 'WriteOnly' }],
    });
  });

  it('rotates its key and lets only this trail generate data keys, in its encryption context', () => {
    const [, key] = only(auth, 'AWS::KMS::Key', 'AuditTrailKey');
    expect(key.Properties.EnableKeyRotation).toBe(true);
    const statements = (key.Properties.KeyPolicy as { Statement: Statement[] }).Statement;
    const trail = statements.filter((s) => JSON.stringify(s.Principal).includes('cloudtrail.amazonaws.com'));
    expect(trail.map((s) => s.Action)).toEqual(['kms:GenerateDataKey*', 'kms:DescribeKey']);
    for (const s of trail) {
      expect(JSON.stringify(s.Condition?.StringEquals?.['aws:SourceArn'])).toContain(
        `:trail/Cruddur-${stage}-Auth-audit`,
      );
    }
    expect(trail[0]!.Condition?.StringLike).toHaveProperty(['kms:EncryptionContext:aws:cloudtrail:arn']);
  });

  it('lets only this trail, named in aws:SourceArn, check the bucket ACL and write log files', () => {
    const [bucketId] = only(auth, 'AWS::S3::Bucket', 'AuditTrailBucket');
    const [, policy] = only(auth, 'AWS::S3::BucketPolicy', 'AuditTrailBucketPolicy');
    const statements = (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
    const cloudTrail = statements.filter((s) => JSON.stringify(s.Principal).includes('cloudtrail.amazonaws.com'));
    expect(cloudTrail.map((s) => [s.Effect, s.Action])).toEqual([
      ['Allow', 's3:GetBucketAcl'],
      ['Allow', 's3:PutObject'],
    ]);
    const trailArn = {
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':cloudtrail:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          `:trail/Cruddur-${stage}-Auth-audit`,
        ],
      ],
    };
    for (const s of cloudTrail) expect(s.Condition?.StringEquals?.['aws:SourceArn']).toEqual(trailArn);
    expect(cloudTrail[1]!.Condition?.StringEquals?.['s3:x-amz-acl']).toBe('bucket-owner-full-control');
    // The ARN is built from the name, so the policy the trail waits for does not wait for the trail.
    const [trailId, trail] = only(auth, 'AWS::CloudTrail::Trail', 'AuditTrail');
    expect(JSON.stringify(policy)).not.toContain(trailId);
    const [policyId] = only(auth, 'AWS::S3::BucketPolicy', 'AuditTrailBucketPolicy');
    expect(trail.DependsOn).toEqual(expect.arrayContaining([policyId]));
    expect(trail.Properties.S3BucketName).toEqual({ Ref: bucketId });
  });

  it('keeps its buckets private, TLS-only, encrypted, retained, and expiring after 30 days by default', () => {
    const days = stageSettings((key) => (key === 'stage' ? stage : undefined)).lifecycle.trailRetentionDays;
    expect(days).toBe(30);
    for (const part of ['AuditTrailBucket', 'AuditTrailAccessLogs']) {
      const [id, bucket] = only(auth, 'AWS::S3::Bucket', part);
      expect(bucket.DeletionPolicy).toBe('Retain');
      expect(bucket.Properties).toMatchObject({
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        LifecycleConfiguration: { Rules: [{ ExpirationInDays: days, Status: 'Enabled' }] },
      });
      auth.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: id },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
    const [accessLogsId] = only(auth, 'AWS::S3::Bucket', 'AuditTrailAccessLogs');
    auth.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { DestinationBucketName: { Ref: accessLogsId } },
    });
  });
});

describe('the audit trail with -c trailRetentionDays=7', () => {
  it('expires log files, and the access logs of their bucket, after 7 days', () => {
    const { auth } = synthApp({ stage: 'prod', trailRetentionDays: '7', ...NO_BUNDLING });
    for (const part of ['AuditTrailBucket', 'AuditTrailAccessLogs']) {
      const [, bucket] = only(auth, 'AWS::S3::Bucket', part);
      expect(bucket.Properties.LifecycleConfiguration).toMatchObject({
        Rules: [{ ExpirationInDays: 7, Status: 'Enabled' }],
      });
    }
  });
});

describe('the audit trail with -c existingTrail=true', () => {
  it('creates no trail, key or bucket of its own, and the event path still exists', () => {
    const { auth } = synthApp({ stage: 'prod', existingTrail: 'true', ...NO_BUNDLING });
    auth.resourceCountIs('AWS::CloudTrail::Trail', 0);
    auth.resourceCountIs('AWS::S3::Bucket', 0);
    expect(Object.keys(auth.findResources('AWS::KMS::Key')).filter((id) => id.startsWith('AuditTrail'))).toEqual([]);
    expect(
      Object.keys(auth.findResources('AWS::Events::Rule')).filter((id) => id.startsWith('UserEventsRule')),
    ).toHaveLength(1);
  });
});
