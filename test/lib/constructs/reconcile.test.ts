import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConnectionLimits } from '../../../lambdas/migrate/settings';
import { connectionLimits, stageSettings } from '../../../lib/stage';
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
  Principal?: unknown;
  Condition?: unknown;
};

function statementsOf(resource: Resource, key = 'PolicyDocument'): Statement[] {
  return (resource.Properties[key] as { Statement: Statement[] }).Statement;
}

describe.each(['dev', 'prod'])('the reconcile in AuthStack (%s)', (stage) => {
  let auth: Template;
  let database: Template;
  let fnId: string;
  let fn: Resource;
  let poolId: string;
  beforeAll(() => {
    ({ auth, database } = synthApp({ stage, ...NO_BUNDLING }));
    [fnId, fn] = only(auth, 'AWS::Lambda::Function', 'ReconcileFunction');
    [poolId] = only(auth, 'AWS::Cognito::UserPool', 'UserPool');
  });

  it('runs one at a time in the VPC for up to 15 minutes, as user_reconciler, with the stage defaults', () => {
    expect(fn.Properties).toMatchObject({ Timeout: 900, ReservedConcurrentExecutions: 1 });
    expect((fn.Properties.VpcConfig as { SubnetIds: unknown[] }).SubnetIds).toHaveLength(2);
    expect((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      DB_USER: 'user_reconciler',
      USER_POOL_ID: { Ref: poolId },
      ERASURE_POLICY: 'delete',
      RECONCILE_RATE: '5',
      RECONCILE_PRUNE: 'true',
    });
  });

  it('starts a run daily and resumes the open one every 15 minutes, through EventBridge Scheduler', () => {
    const target = (input: string) => ({
      Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
      Input: input,
      RoleArn: Match.anyValue(),
      RetryPolicy: Match.anyValue(),
    });
    auth.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 day)',
      Target: target('{"mode":"start"}'),
    });
    auth.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(15 minutes)',
      Target: target('{"mode":"continue"}'),
    });
    auth.resourceCountIs('AWS::Scheduler::Schedule', 2);
    // A throttled invocation (a run still going) waits at most an hour; a failed one is resumed, not retried.
    auth.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: fnId },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 3600,
    });
  });

  it("may call ListUsers and AdminGetUser on this pool's ARN only, and no other Cognito action", () => {
    const [, policy] = only(auth, 'AWS::IAM::Policy', 'ReconcileFunctionRoleDefaultPolicy');
    const statements = statementsOf(policy);
    const cognito = statements.filter((s) => JSON.stringify(s.Action).includes('cognito-idp'));
    expect(cognito).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: ['cognito-idp:ListUsers', 'cognito-idp:AdminGetUser'],
        Resource: { 'Fn::GetAtt': [poolId, 'Arn'] },
      }),
    ]);
    // Nowhere in the stack: a wildcard Cognito action, or a Cognito action on every resource.
    for (const resource of Object.values(auth.findResources('AWS::IAM::Policy')) as Resource[]) {
      for (const s of statementsOf(resource)) {
        const actions = ([] as string[]).concat(s.Action);
        if (actions.some((action) => action.startsWith('cognito-idp:'))) {
          expect(actions).not.toContain('cognito-idp:*');
          expect(s.Resource).not.toBe('*');
        }
      }
    }
  });

  it('reaches Cognito through an interface endpoint whose policy admits only those two calls on this pool', () => {
    const [endpointId, endpoint] = only(auth, 'AWS::EC2::VPCEndpoint', 'ReconcileCognitoEndpoint');
    expect(endpoint.Properties).toMatchObject({
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.cognito-idp']] },
    });
    expect(statementsOf(endpoint)).toEqual([
      {
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: ['cognito-idp:ListUsers', 'cognito-idp:AdminGetUser'],
        Resource: { 'Fn::GetAtt': [poolId, 'Arn'] },
      },
    ]);
    auth.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      Description: 'reconcile to the Cognito endpoint',
      FromPort: 443,
      ToPort: 443,
      DestinationSecurityGroupId: {
        'Fn::GetAtt': [Match.stringLikeRegexp(`^${endpointId.replace(/[0-9A-F]{8}$/, '')}SecurityGroup`), 'GroupId'],
      },
    });
  });

  it('alarms through the stage topic when an invocation fails', () => {
    auth.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }],
      AlarmActions: [Match.anyValue()],
      OKActions: [Match.anyValue()],
    });
  });

  it("gives the migration each function role's connection limit from the stage arithmetic (CONNECTION_LIMITS)", () => {
    const migrate = (Object.values(database.findResources('AWS::Lambda::Function')) as Resource[]).find(
      (resource) =>
        typeof resource.Properties.Description === 'string' &&
        resource.Properties.Description.includes('Applies sql/migrations'),
    )!;
    const text = (migrate.Properties.Environment as { Variables: Record<string, string> }).Variables.CONNECTION_LIMITS!;
    const settings = stageSettings((key) => (key === 'stage' ? stage : undefined));
    expect(parseConnectionLimits(text)).toEqual(connectionLimits(settings));
    expect(Object.keys(parseConnectionLimits(text)).sort()).toEqual([
      'handle_checker',
      'signup_writer',
      'sync_writer',
      'user_reconciler',
    ]);
  });

  it('outputs ReconcileFunctionName for the CLI', () => {
    auth.hasOutput('ReconcileFunctionName', { Value: { Ref: fnId } });
  });
});

describe('the reconcile with options', () => {
  it('passes -c erasure=anonymize to the writer and the reconcile, and -c reconcileSchedule to the start schedule', () => {
    const { auth } = synthApp({
      stage: 'dev',
      erasure: 'anonymize',
      reconcileSchedule: 'cron(0 3 * * ? *)',
      reconcileRate: '2',
      ...NO_BUNDLING,
    });
    for (const part of ['ReconcileFunction', 'SignupFallbackReplayFunction']) {
      const [, fn] = only(auth, 'AWS::Lambda::Function', part);
      expect((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables.ERASURE_POLICY).toBe(
        'anonymize',
      );
    }
    auth.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 3 * * ? *)',
      Target: Match.objectLike({ Input: '{"mode":"start"}' }),
    });
    auth.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ RECONCILE_RATE: '2' }) },
    });
  });

  it('refuses to synthesize once the user pool has a domain, which the Cognito endpoint would refuse', () => {
    expect(() =>
      synthApp({ stage: 'dev', ...NO_BUNDLING }, ({ auth }) => {
        auth.userPool.addDomain('Domain', { cognitoDomain: { domainPrefix: 'cruddur-test' } });
      }),
    ).toThrow(/Cognito VPC endpoint, which refuses every call for a pool with a domain/);
  });
});
