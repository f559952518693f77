import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { FIXED_CONCURRENCY } from '../../../lib/stage';
import { synthApp, type Resource, type SynthesizedStage } from '../../support/cdk';

function resourceOf(template: Template, id: string): Resource {
  return (template.toJSON() as { Resources: Record<string, Resource> }).Resources[id]!;
}

function logicalId(template: Template, type: string, pathPart: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.includes(pathPart));
  expect(ids, `${type} ${pathPart}`).toHaveLength(1);
  return ids[0] as string;
}

function statementsOf(template: Template, policyIdPart: string): { Action: string | string[]; Resource: unknown }[] {
  const policy = template.findResources('AWS::IAM::Policy')[
    logicalId(template, 'AWS::IAM::Policy', policyIdPart)
  ] as Resource;
  return (policy.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] })
    .Statement;
}

describe.each(['dev', 'prod'])('the sign-up fallback in AuthStack (%s)', { timeout: 120_000 }, (stage) => {
  let synth: SynthesizedStage;
  let auth: Template;
  let queueId: string;
  let dlqId: string;
  let keyId: string;
  let replayId: string;
  beforeAll(() => {
    synth = synthApp({ stage });
    auth = synth.auth;
    queueId = logicalId(auth, 'AWS::SQS::Queue', 'SignupFallbackQueue');
    dlqId = logicalId(auth, 'AWS::SQS::Queue', 'SignupFallbackDeadLetterQueue');
    keyId = logicalId(auth, 'AWS::KMS::Key', 'SignupFallbackKey');
    replayId = logicalId(auth, 'AWS::Lambda::Function', 'SignupFallbackReplayFunction');
  });

  it('encrypts both queues with a rotated key of their own and keeps messages 14 days', () => {
    auth.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    for (const id of [queueId, dlqId]) {
      expect(resourceOf(auth, id).Properties).toMatchObject({
        KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
        MessageRetentionPeriod: 14 * 24 * 3600,
      });
    }
  });

  it('refuses requests without TLS on both queues', () => {
    for (const id of [queueId, dlqId]) {
      auth.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sqs:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });

  it('moves a message to the dead-letter queue after 12 deliveries 5 minutes apart', () => {
    expect(resourceOf(auth, queueId).Properties).toMatchObject({
      VisibilityTimeout: 300,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 12 },
    });
    // The visibility timeout is at least six times the replay function's timeout (Lambda's SQS guidance).
    const replay = resourceOf(auth, replayId).Properties as { Timeout: number };
    expect(300).toBeGreaterThanOrEqual(6 * replay.Timeout);
  });

  it('alarms as soon as any message is visible in the dead-letter queue', () => {
    auth.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId, 'QueueName'] } }],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  it('alarms when queued sign-ups wait longer than 15 minutes', () => {
    auth.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
      Threshold: 900,
    });
  });

  it('drains the queue into the replay function with partial batch responses and bounded concurrency', () => {
    auth.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      FunctionName: { Ref: replayId },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 5,
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });

  it('runs the replay function in the VPC as sync_writer with the erasure policy, and no queue URL of its own', () => {
    const replay = resourceOf(auth, replayId).Properties as Record<
      string,
      { Variables?: Record<string, unknown>; SubnetIds?: unknown[] }
    >;
    expect(replay.VpcConfig?.SubnetIds).toHaveLength(2);
    expect(replay.Environment?.Variables).toMatchObject({
      DB_USER: 'sync_writer',
      CONNECTION_URL: '',
      ERASURE_POLICY: 'delete',
    });
    expect(replay.Environment?.Variables).not.toHaveProperty('FALLBACK_QUEUE_URL');
    const actions = statementsOf(auth, 'SignupFallbackReplayFunctionRoleDefaultPolicy').flatMap((s) => s.Action);
    expect(actions).toEqual(
      expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'kms:Decrypt', 'rds-db:connect']),
    );
    expect(actions).not.toContain('sqs:SendMessage');
  });

  it('gives the post-confirmation function the queue URL and exactly the send permissions', () => {
    const fnId = logicalId(auth, 'AWS::Lambda::Function', 'PostConfirmationFunction');
    const fn = resourceOf(auth, fnId).Properties as { Environment: { Variables: Record<string, unknown> } };
    expect(fn.Environment.Variables.FALLBACK_QUEUE_URL).toEqual({ Ref: queueId });
    const statements = statementsOf(auth, 'PostConfirmationFunctionRoleDefaultPolicy');
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [queueId, 'Arn'] } }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
        Resource: { 'Fn::GetAtt': [keyId, 'Arn'] },
        // Only through SQS: the key cannot be used directly with these rights.
        Condition: {
          StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['sqs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
        },
      }),
    );
    const actions = statements.flatMap((s) => s.Action);
    expect(actions).not.toContain('sqs:ReceiveMessage');
    expect(actions.filter((action) => action.includes('*'))).toEqual([]);
  });

  it('lets only its producers, the post-confirmation and user-events roles, send to the sync queue', () => {
    const producer = (part: string) => ({ 'Fn::GetAtt': [logicalId(auth, 'AWS::IAM::Role', part), 'Arn'] });
    auth.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'OnlyTheProducersSend',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'sqs:SendMessage',
            Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
            Condition: {
              ArnNotEquals: {
                'aws:PrincipalArn': [producer('PostConfirmationFunctionRole'), producer('UserEventsFunctionRole')],
              },
            },
          },
        ]),
      },
    });
  });

  it('reads at most two batches at once, the concurrency lib/stage.ts counts for sync_writer', () => {
    auth.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: replayId },
      ScalingConfig: { MaximumConcurrency: FIXED_CONCURRENCY.replay },
    });
  });

  it('opens 443 from the post-confirmation function to the SQS endpoint only', () => {
    auth.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      Description: 'post-confirmation to the SQS endpoint',
      FromPort: 443,
      ToPort: 443,
      DestinationSecurityGroupId: { 'Fn::ImportValue': Match.stringLikeRegexp('SqsEndpoint') },
    });
  });

  it('wires the PreSignUp trigger on the user pool, next to Post Confirmation', () => {
    const preSignUpId = logicalId(auth, 'AWS::Lambda::Function', 'PreSignUpFunction');
    auth.hasResourceProperties('AWS::Cognito::UserPool', {
      LambdaConfig: Match.objectLike({ PreSignUp: { 'Fn::GetAtt': [preSignUpId, 'Arn'] } }),
    });
    auth.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: { 'Fn::GetAtt': [preSignUpId, 'Arn'] },
      Principal: 'cognito-idp.amazonaws.com',
    });
    const fn = resourceOf(auth, preSignUpId).Properties as Record<
      string,
      { Variables?: Record<string, unknown>; SubnetIds?: unknown[] }
    >;
    expect(fn.VpcConfig?.SubnetIds).toHaveLength(2);
    expect(fn.Environment?.Variables).toMatchObject({ DB_USER: 'handle_checker' });
  });

  it(`${stage === 'prod' ? 'retains' : 'deletes'} the queues and the key with the stack`, () => {
    const expected = stage === 'prod' ? 'Retain' : 'Delete';
    for (const id of [queueId, dlqId, keyId]) expect(resourceOf(auth, id).DeletionPolicy).toBe(expected);
  });
});
