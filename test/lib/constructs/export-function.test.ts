// The export function as AuthStack deploys it, with its output, synthesized with cdk-nag on.
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXPORT_FUNCTION_OUTPUT } from '../../../bin/cli/export';
import { EXPORT_DATABASE_USER } from '../../../lib/constructs/export-function';
import { NO_BUNDLING, synthApp, type Finding, type Resource } from '../../support/cdk';

describe('ExportFunction', { timeout: 120_000 }, () => {
  let auth: Template;
  let findings: Finding[];
  let fnId: string;
  let fn: Resource;

  beforeAll(() => {
    ({ auth, findings } = synthApp({ stage: 'prod', ...NO_BUNDLING }, ({ auth: stack }) => {
      // AuthStack deploys the function and its output; an operators' role is given the invoke policy, as ops do.
      const operators = new iam.Role(stack, 'TestOperators', { assumedBy: new iam.AccountRootPrincipal() });
      stack.exportFunction.invokePolicy.attachToRole(operators);
    }));
    const found = Object.entries(auth.findResources('AWS::Lambda::Function')).filter(([id]) =>
      id.startsWith('ExportFunction'),
    ) as [string, Resource][];
    expect(found).toHaveLength(1);
    [fnId, fn] = found[0]!;
  });

  it('adds no finding of cdk-nag or CloudFormation validation', () => {
    expect(findings).toEqual([]);
  });

  it('runs in the VPC, one at a time, logged in as user_exporter with an IAM token', () => {
    expect(fn.Properties).toMatchObject({ Timeout: 30, ReservedConcurrentExecutions: 1 });
    expect((fn.Properties.VpcConfig as { SubnetIds: unknown[] }).SubnetIds.length).toBeGreaterThan(0);
    const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables).toMatchObject({ DB_USER: EXPORT_DATABASE_USER, CONNECTION_URL: '' });
    expect(JSON.stringify(variables)).not.toMatch(/password|secret/i);
    const connects = Object.values(auth.findResources('AWS::IAM::Policy'))
      .flatMap(
        (policy) =>
          (policy as Resource).Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] },
      )
      .flatMap((document) => document.Statement)
      .filter((statement) => statement.Action === 'rds-db:connect');
    expect(
      connects.map((statement) => JSON.stringify(statement.Resource)).filter((r) => r.includes('/user_exporter')),
    ).toHaveLength(1);
  });

  it('lets only the operators it is given invoke it, and only it, through a managed policy', () => {
    const policies = Object.values(auth.findResources('AWS::IAM::ManagedPolicy')) as Resource[];
    const invoking = policies.filter((policy) => JSON.stringify(policy.Properties).includes('lambda:InvokeFunction'));
    expect(invoking).toHaveLength(1);
    const properties = invoking[0]!.Properties;
    expect((properties.PolicyDocument as { Statement: unknown[] }).Statement).toEqual([
      { Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: { 'Fn::GetAtt': [fnId, 'Arn'] } },
    ]);
    expect(JSON.stringify(properties.Roles)).toMatch(/TestOperators/);
    // No other policy of the stack lets anything invoke the export function.
    const others = Object.values(auth.findResources('AWS::IAM::Policy')).filter((policy) =>
      JSON.stringify(policy).includes(`"${fnId}"`),
    );
    expect(others).toEqual([]);
    expect(Object.keys(auth.findResources('AWS::Lambda::Permission')).filter((id) => id.startsWith('Export'))).toEqual(
      [],
    );
  });

  it('is found by the CLI through the ExportFunctionName output', () => {
    auth.hasOutput(EXPORT_FUNCTION_OUTPUT, { Value: { Ref: fnId } });
  });
});
