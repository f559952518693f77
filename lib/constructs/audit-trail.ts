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
  /**
   * How long log files (and the access logs of their bucket) are kept. EventBridge, the reason the trail exists,
   * needs none of them stored; CloudTrail's event history keeps 90 days of management events on its own.
   */
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

    // Only this trail may write here (the bucket policy AWS documents for CloudTrail, with aws:SourceArn:
    // https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html).
    // cloudtrail.Trail adds GetBucketAcl and PutObject to the bucket it is given without that condition (it
    // names the trail only for an organization trail), which would let any trail of any account deliver here.
    // So the trail gets a reference to the bucket that takes no statements, and the statements are added here.
    // The ARN is built from the trail's name: the trail waits for this policy, so the policy cannot wait for
    // the trail's ARN attribute.
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'ThisTrailChecksTheBucketAcl',
        principals: [new iam.ServicePrincipal('cloudtrail.amazonaws.com')],
        actions: ['s3:GetBucketAcl'],
        resources: [this.bucket.bucketArn],
        conditions: { StringEquals: fromThisTrail },
      }),
    );
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'ThisTrailWritesItsLogFiles',
        principals: [new iam.ServicePrincipal('cloudtrail.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects(`AWSLogs/${stack.account}/*`)],
        conditions: { StringEquals: { 's3:x-amz-acl': 'bucket-owner-full-control', ...fromThisTrail } },
      }),
    );
    const bucketPolicy = this.bucket.policy;
    if (bucketPolicy === undefined) throw new Error('the audit trail bucket has no bucket policy');
    const bucketWithoutPolicy = s3.Bucket.fromBucketAttributes(this, 'TrailBucket', {
      bucketArn: this.bucket.bucketArn,
      bucketName: this.bucket.bucketName,
    });

    // Single-region, without global service events: the events this app needs (Cognito's user calls and the
    // database's, for the alerts) happen in this region, and EventBridge delivers them in this region only.
    // A multi-region trail in each stage would copy every other region's events twice, and a second copy of
    // management events is billed. An account that already records all regions sets existingTrail instead.
    // Write events only: the reconcile's 5 ListUsers a second (read events) would be most of the volume.
    this.trail = new cloudtrail.Trail(this, 'Trail', {
      trailName: this.trailName,
      bucket: bucketWithoutPolicy,
      encryptionKey: this.key,
      enableFileValidation: true,
      isMultiRegionTrail: false,
      includeGlobalServiceEvents: false,
      managementEvents: cloudtrail.ReadWriteType.WRITE_ONLY,
      sendToCloudWatchLogs: false,
    });
    // CloudTrail checks the bucket policy when the trail is created: the policy must exist first.
    this.trail.node.addDependency(bucketPolicy);
  }
}
