// The trail for management events. EventBridge receives "AWS API Call via CloudTrail" events only while a
// trail is logging, so the lifecycle sync's event path and the database alerts depend on one. With
// `-c existingTrail=true` the account's own trail does this instead, and this construct is not created.
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';

export interface AuditTrailProps {
  /** How long log files (and the access logs of their bucket) are kept. */
  readonly retention: Duration;
}

export class AuditTrail extends Construct {
  public readonly key: kms.Key;
  public readonly bucket: s3.Bucket;
  /** Who read or changed the log files: server access logs of `bucket`. */
  public readonly accessLogsBucket: s3.Bucket;
  public readonly trail: cloudtrail.Trail;
  /** Named, not generated: the key and bucket policies name the trail's ARN, which then depends on nothing. */
  public readonly trailName: string;

  constructor(scope: Construct, id: string, props: AuditTrailProps) {
    super(scope, id);
    // Server access logs granted by a bucket policy, not by the LogDeliveryWrite ACL CDK would otherwise set:
    // ACLs stay off (bucket owner enforced) on both buckets. Scoped to this construct, set before its children.
    this.node.setContext(cxapi.S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);
    const stack = Stack.of(this);
    this.trailName = `${stack.stackName}-audit`;
    const trailArn = stack.formatArn({ service: 'cloudtrail', resource: 'trail', resourceName: this.trailName });
    const fromThisTrail = { 'aws:SourceArn': trailArn };
    // Audit logs outlive the stack that wrote them: deleting a stage must not delete the record of what was
    // done to it. The lifecycle rule empties a retained bucket in time.
    const removalPolicy = RemovalPolicy.RETAIN;
    const lifecycleRules: s3.LifecycleRule[] = [
      { expiration: props.retention, noncurrentVersionExpiration: Duration.days(1) },
    ];

    this.key = new kms.Key(this, 'Key', {
      description: 'Audit trail log files (management events)',
      enableKeyRotation: true,
      removalPolicy,
    });
    // CloudTrail encrypts each log file with a data key; only this trail may ask for one, and only in its own
    // encryption context. Reading (kms:Decrypt) stays with the account's IAM policies (the default key policy).
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'ThisTrailEncryptsItsLogFiles',
        principals: [new iam.ServicePrincipal('cloudtrail.amazonaws.com')],
        actions: ['kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: {
          StringEquals: fromThisTrail,
          StringLike: {
            'kms:EncryptionContext:aws:cloudtrail:arn': stack.formatArn({
              service: 'cloudtrail',
              resource: 'trail',
              resourceName: '*',
            }),
          },
        },
      }),
    );
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'ThisTrailDescribesTheKey',
        principals: [new iam.ServicePrincipal('cloudtrail.amazonaws.com')],
        actions: ['kms:DescribeKey'],
        resources: ['*'],
        conditions: { StringEquals: fromThisTrail },
      }),
    );

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      // S3 delivers server access logs only to a bucket with S3-managed default encryption.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules,
      removalPolicy,
    });
    Validations.of(this.accessLogsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This is the server access log bucket of the audit trail bucket; logging it would need a third bucket, and so on.',
    });

    this.bucket = new s3.Bucket(this, 'Bucket', {
      // The log files themselves are SSE-KMS with the trail's key (the trail sets it per object).
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      lifecycleRules,
      removalPolicy,
    });

    // Single-region, without global service events: the events this app needs (Cognito's user calls and the
    // database's, for the alerts) happen in this region, and EventBridge delivers them in this region only.
    // A multi-region trail in each stage would copy every other region's events twice, and a second copy of
    // management events is billed. An account that already records all regions sets existingTrail instead.
    // Write events only: the reconcile's 5 ListUsers a second (read events) would be most of the volume.
    this.trail = new cloudtrail.Trail(this, 'Trail', {
      trailName: this.trailName,
      bucket: this.bucket,
      encryptionKey: this.key,
      enableFileValidation: true,
      isMultiRegionTrail: false,
      includeGlobalServiceEvents: false,
      managementEvents: cloudtrail.ReadWriteType.WRITE_ONLY,
      sendToCloudWatchLogs: false,
    });
  }
}
