import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { USER_EVENT_NAMES } from '../../../lambdas/cognito/cloudtrail-event';
import { CALLS_WITHOUT_POOL_ID } from '../../../lib/constructs/user-events';
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
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
  Principal?: unknown;
};

describe.each(['dev', 'prod'])('the event path in AuthStack (%s)', (stage) => {
  let auth: Template;
  let fnId: string;
  let fn: Resource;
  let dlqId: string;
  let poolId: string;
  beforeAll(() => {
    auth = synthApp({ stage, ...NO_BUNDLING }).auth;
    [fnId, fn] = only(auth, 'AWS::Lambda::Function', 'UserEventsFunction');
    [dlqId] = only(auth, 'AWS::SQS::Queue', 'UserEventsDeadLetterQueue');
    [poolId] = only(auth, 'AWS::Cognito::UserPool', 'UserPool');
  });

  it("matches exactly this pool's successful user calls from CloudTrail on the default bus", () => {
    const [, rule] = only(auth, 'AWS::Events::Rule', 'UserEventsRule');
    expect(rule.Properties.EventBusName).toBeUndefined();
    expect(rule.Properties.EventPattern).toEqual({
      source: ['aws.cognito-idp'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['cognito-idp.amazonaws.com'],
        eventName: [...USER_EVENT_NAMES],
        errorCode: [{ exists: false }, ''],
        $or: [{ requestParameters: { userPoolId: [{ Ref: poolId }] } }, { eventName: [...CALLS_WITHOUT_POOL_ID] }],
      },
    });
    for (const name of [
      'AdminAddUserToGroup',
      'AdminRemoveUserFromGroup',
      'DeleteGroup',
      'AdminCreateUser',
      'AdminUpdateUserAttributes',
      'UpdateUserAttributes',
      'VerifyUserAttribute',
      'AdminDeleteUser',
      'DeleteUser',
      'AdminDisableUser',
      'AdminEnableUser',
      'AdminLinkProviderForUser',
    ]) {
      expect(USER_EVENT_NAMES).toContain(name);
    }
  });

  it('lets only the calls made with an access token or a client id (no pool id in the request) through without the pool filter', () => {
    expect(CALLS_WITHOUT_POOL_ID).toEqual(
      expect.arrayContaining(['DeleteUser', 'UpdateUserAttributes', 'VerifyUserAttribute']),
    );
    expect(CALLS_WITHOUT_POOL_ID.filter((name) => name.startsWith('Admin'))).toEqual([]);
    // DeleteGroup is an IAM call that names its pool.
    expect(CALLS_WITHOUT_POOL_ID).not.toContain('DeleteGroup');
  });

  it('targets the function with bounded retries and its own dead-letter queue', () => {
    auth.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        {
          Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
          Id: Match.anyValue(),
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlqId, 'Arn'] } },
        },
      ],
    });
    // Invocations that fail after Lambda's own retries land in the same queue.
    auth.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: fnId },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlqId, 'Arn'] } } },
    });
  });

  it('encrypts the dead-letter queue, refuses plain HTTP, and lets only the rule and the function send', () => {
    const [, dlq] = only(auth, 'AWS::SQS::Queue', 'UserEventsDeadLetterQueue');
    expect(dlq.Properties.SqsManagedSseEnabled).toBe(true);
    const [, policy] = only(auth, 'AWS::SQS::QueuePolicy', 'UserEventsDeadLetterQueue');
    const statements = (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
    const [ruleId] = only(auth, 'AWS::Events::Rule', 'UserEventsRule');
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 'sqs:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ruleId, 'Arn'] } } },
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 'sqs:SendMessage',
        Principal: { AWS: '*' },
        Condition: {
          ArnNotEquals: {
            'aws:SourceArn': { 'Fn::GetAtt': [ruleId, 'Arn'] },
            'aws:PrincipalArn': { 'Fn::GetAtt': [expect.stringMatching(/^UserEventsFunctionRole/) as unknown, 'Arn'] },
          },
        },
      }),
    );
  });

  it('alarms, through the stage topic, as soon as anything is in the dead-letter queue', () => {
    auth.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId, 'QueueName'] } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [Match.anyValue()],
    });
  });

  it('runs outside the VPC with the pool id and the sync queue URL', () => {
    expect(fn.Properties.VpcConfig).toBeUndefined();
    const [queueId] = only(auth, 'AWS::SQS::Queue', 'SignupFallbackQueue');
    expect((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      USER_POOL_ID: { Ref: poolId },
      SYNC_QUEUE_URL: { Ref: queueId },
    });
    // No ENI permissions for a function with no ENIs.
    expect(
      Object.keys(auth.findResources('AWS::IAM::Policy')).filter((id) => id.startsWith('UserEventsFunctionVpcAccess')),
    ).toEqual([]);
  });

  it("may read this pool's users by sub (ListUsers), a user's groups and a group only, and send to the sync queue only, through SQS only", () => {
    const [, policy] = only(auth, 'AWS::IAM::Policy', 'UserEventsFunctionRoleDefaultPolicy');
    const statements = (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
    const [queueId] = only(auth, 'AWS::SQS::Queue', 'SignupFallbackQueue');
    const [keyId] = only(auth, 'AWS::KMS::Key', 'SignupFallbackKey');
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: ['cognito-idp:ListUsers', 'cognito-idp:AdminListGroupsForUser', 'cognito-idp:GetGroup'],
        Resource: { 'Fn::GetAtt': [poolId, 'Arn'] },
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [queueId, 'Arn'] } }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
        Resource: { 'Fn::GetAtt': [keyId, 'Arn'] },
        Condition: {
          StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['sqs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
        },
      }),
    );
    const cognito = statements.filter((s) => JSON.stringify(s.Action).includes('cognito-idp'));
    expect(cognito.flatMap((s) => s.Action)).toEqual([
      'cognito-idp:ListUsers',
      'cognito-idp:AdminListGroupsForUser',
      'cognito-idp:GetGroup',
    ]);
    for (const s of statements) expect(s.Resource).not.toBe('*');
  });
});
