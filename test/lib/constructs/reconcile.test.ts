import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConnectionLimits } from '../../../lambdas/migrate/settings';
import { connectionLimits, stageSettings } from '../../../lib/stage';
import { NO_BUNDLING, synthApp, type Resource, type SynthesizedStage } from '../../support/cdk';

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

const actionsOf = (s: Statement) => ([] as string[]).concat(s.Action);

/** Every statement any policy of `template` gives the role with logical id `roleId` (attached or inline). */
function roleStatements(template: Template, roleId: string): Statement[] {
  const statements: Statement[] = [];
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy')) as Resource[]) {
    const roles = (policy.Properties.Roles ?? []) as unknown[];
    if (roles.some((role) => JSON.stringify(role) === JSON.stringify({ Ref: roleId })))
      statements.push(...statementsOf(policy));
  }
  const role = template.findResources('AWS::IAM::Role')[roleId] as Resource | undefined;
  for (const inline of (role?.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[])
    statements.push(...inline.PolicyDocument.Statement);
  return statements;
}

/** Functions of every stack that run in a VPC, with the Cognito actions their roles may call. */
function cognitoActionsInVpc(synth: SynthesizedStage): { fn: string; actions: string[] }[] {
  const found: { fn: string; actions: string[] }[] = [];
  for (const template of [synth.network, synth.database, synth.auth]) {
    for (const [fnId, fn] of Object.entries(template.findResources('AWS::Lambda::Function')) as [string, Resource][]) {
      if (fn.Properties.VpcConfig === undefined) continue;
      const roleId = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      const actions = roleStatements(template, roleId)
        .flatMap(actionsOf)
        .filter((action) => action.startsWith('cognito-idp:') || action === '*');
      found.push({ fn: fnId, actions });
    }
  }
  return found;
}

describe.each(['dev', 'prod'])('the reconcile in AuthStack (%s)', (stage) => {
  let synth: SynthesizedStage;
  let auth: Template;
  let database: Template;
  let storeId: string;
  let store: Resource;
  let runnerId: string;
  let runner: Resource;
  let poolId: string;
  beforeAll(() => {
    synth = synthApp({ stage, ...NO_BUNDLING });
    ({ auth, database } = synth);
    [storeId, store] = only(auth, 'AWS::Lambda::Function', 'ReconcileFunction');
    [runnerId, runner] = only(auth, 'AWS::Lambda::Function', 'ReconcileRunner');
    [poolId] = only(auth, 'AWS::Cognito::UserPool', 'UserPool');
  });

  it('keeps the database side in the VPC, one at a time, as user_reconciler, with no Cognito permission', () => {
    expect(storeId).toBe('ReconcileFunction585E26B3');
    expect(store.Properties).toMatchObject({ ReservedConcurrentExecutions: 1 });
    expect((store.Properties.VpcConfig as { SubnetIds: unknown[] }).SubnetIds).toHaveLength(2);
    const variables = (store.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables).toMatchObject({ DB_USER: 'user_reconciler' });
    expect(variables).not.toHaveProperty('USER_POOL_ID');
    const roleId = (store.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const actions = roleStatements(auth, roleId).flatMap(actionsOf);
    expect(actions).toContain('rds-db:connect');
    expect(actions.filter((action) => action.startsWith('cognito-idp:') || action.startsWith('lambda:'))).toEqual([]);
  });

  it('runs the reconcile outside the VPC, one at a time for up to 15 minutes, with the stage defaults', () => {
    expect(runner.Properties).toMatchObject({ Timeout: 900, ReservedConcurrentExecutions: 1 });
    expect(runner.Properties.VpcConfig).toBeUndefined();
    const variables = (runner.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables).toMatchObject({
      USER_POOL_ID: { Ref: poolId },
      ERASURE_POLICY: 'delete',
      RECONCILE_RATE: '5',
      RECONCILE_PRUNE: 'true',
      RECONCILE_MAX_PRUNE: '',
      RECONCILE_STORE_FUNCTION: { Ref: storeId },
    });
    // No database settings: it reaches the database only through the store function.
    expect(Object.keys(variables).filter((key) => key.startsWith('DB_'))).toEqual([]);
  });

  it("may read this pool's users and groups and invoke the store function, and nothing else", () => {
    const roleId = (runner.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const statements = roleStatements(auth, roleId);
    expect(statements.filter((s) => actionsOf(s).some((a) => a.startsWith('cognito-idp:')))).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: ['cognito-idp:ListUsers', 'cognito-idp:ListGroups', 'cognito-idp:ListUsersInGroup'],
        Resource: { 'Fn::GetAtt': [poolId, 'Arn'] },
      }),
    ]);
    expect(statements.filter((s) => actionsOf(s).some((a) => a.startsWith('lambda:')))).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: [
          { 'Fn::GetAtt': [storeId, 'Arn'] },
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': [storeId, 'Arn'] }, ':*']] },
        ],
      }),
    ]);
    // Nowhere in the stack: a wildcard Cognito action, or a Cognito action on every resource.
    for (const resource of Object.values(auth.findResources('AWS::IAM::Policy')) as Resource[]) {
      for (const s of statementsOf(resource)) {
        if (actionsOf(s).some((action) => action.startsWith('cognito-idp:'))) {
          expect(actionsOf(s)).not.toContain('cognito-idp:*');
          expect(s.Resource).not.toBe('*');
        }
      }
    }
  });

  it('gives no function in the VPC a Cognito permission, and has no Cognito endpoint', () => {
    const inVpc = cognitoActionsInVpc(synth);
    expect(inVpc.map(({ fn }) => fn)).toContain(storeId);
    expect(inVpc.filter(({ actions }) => actions.length > 0)).toEqual([]);
    for (const template of [synth.network, synth.database, synth.auth]) {
      for (const endpoint of Object.values(template.findResources('AWS::EC2::VPCEndpoint')) as Resource[])
        expect(JSON.stringify(endpoint.Properties.ServiceName)).not.toContain('cognito-idp');
    }
  });

  it('starts a run daily and resumes the open one every 15 minutes on the runner, through EventBridge Scheduler', () => {
    const target = (input: string) => ({
      Arn: { 'Fn::GetAtt': [runnerId, 'Arn'] },
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
      FunctionName: { Ref: runnerId },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 3600,
    });
    // The store function is only ever invoked synchronously, by the runner.
    const storeConfigs = Object.values(auth.findResources('AWS::Lambda::EventInvokeConfig')).filter(
      (config) => JSON.stringify((config as Resource).Properties.FunctionName) === JSON.stringify({ Ref: storeId }),
    );
    expect(storeConfigs).toEqual([]);
  });

  it('alarms through the stage topic when a runner invocation fails', () => {
    auth.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: runnerId } }],
      AlarmActions: [Match.anyValue()],
      OKActions: [Match.anyValue()],
    });
  });

  it("alarms on a day's drift above 10, on a refused prune and on a tombstoned user in the pool", () => {
    const alarm = (metricName: string, props: Record<string, unknown>) =>
      auth.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'Cruddur',
        MetricName: metricName,
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: runnerId } }],
        Statistic: 'Sum',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
        AlarmActions: [Match.anyValue()],
        OKActions: [Match.anyValue()],
        ...props,
      });
    alarm('Drift', { Period: 86400, Threshold: 10, ComparisonOperator: 'GreaterThanThreshold' });
    alarm('PruneRefused', { Period: 60, Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    alarm('TombstonedInPool', { Period: 60, Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
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

  it('outputs ReconcileFunctionName, the runner, for the CLI', () => {
    auth.hasOutput('ReconcileFunctionName', { Value: { Ref: runnerId } });
  });
});

describe('the reconcile with options', () => {
  it('passes -c erasure=anonymize to the writer and the runner, and -c reconcileSchedule to the start schedule', () => {
    const { auth } = synthApp({
      stage: 'dev',
      erasure: 'anonymize',
      reconcileSchedule: 'cron(0 3 * * ? *)',
      reconcileRate: '2',
      ...NO_BUNDLING,
    });
    for (const part of ['ReconcileRunner', 'SignupFallbackReplayFunction']) {
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

  it('passes -c reconcileMaxPrune to the runner and -c reconcileDriftThreshold to the drift alarm', () => {
    const { auth } = synthApp({
      stage: 'prod',
      reconcileMaxPrune: '500',
      reconcileDriftThreshold: '25',
      ...NO_BUNDLING,
    });
    const [, runner] = only(auth, 'AWS::Lambda::Function', 'ReconcileRunner');
    expect((runner.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      RECONCILE_MAX_PRUNE: '500',
    });
    auth.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Drift', Threshold: 25, Period: 86400 });
  });

  it.each(['dev', 'prod'])(
    'synthesizes %s with a managed login domain, and still no function in the VPC may call Cognito',
    (stage) => {
      const synth = synthApp({
        stage,
        domainPrefix: `cruddur-${stage}-test`,
        callbackUrls: 'https://app.example.org/cb',
        ...NO_BUNDLING,
      });
      synth.auth.resourceCountIs('AWS::Cognito::UserPoolDomain', 1);
      expect(synth.findings).toEqual([]);
      const inVpc = cognitoActionsInVpc(synth);
      expect(inVpc.length).toBeGreaterThan(0);
      expect(inVpc.filter(({ actions }) => actions.length > 0)).toEqual([]);
    },
  );
});
