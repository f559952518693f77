import { describe, expect, it } from 'vitest';
import baseline from './fixtures/logical-ids.json';
import { CONTEXTS, contextKey, logicalIdsOf, lostIds, type LogicalIds } from './logical-ids';

/**
 * Logical ids removed on purpose, each with why: CloudFormation deletes these resources on the next deploy.
 * Everything else in the baseline must still be there with the same type.
 */
const RETIRED = new Set<string>([
  // The Cognito interface endpoint, its security group and the rules between it and the reconcile function:
  // nothing in the VPC calls Cognito any more (a pool with a domain cannot be reached through the endpoint);
  // the reconcile's pool reading runs outside the VPC.
  'ReconcileCognitoEndpointBDC9CC31',
  'ReconcileCognitoEndpointSecurityGroup26AE4636',
  'ReconcileCognitoEndpointSecurityGroupfromCruddurdevAuthReconcileFunctionSecurityGroupE01B3D02443DE1BA66A',
  'ReconcileCognitoEndpointSecurityGroupfromCruddurprodAuthReconcileFunctionSecurityGroup79A176EE443C1950F93',
  'ReconcileFunctionSecurityGrouptoCruddurdevAuthReconcileCognitoEndpointSecurityGroupB32A0870443BB7632E9',
  'ReconcileFunctionSecurityGrouptoCruddurprodAuthReconcileCognitoEndpointSecurityGroup6190F98844328B89BF8',
  // ReconcileFunction is now the store function, invoked only synchronously by the runner: no asynchronous
  // invocation to configure (the runner has its own, ReconcileRunnerEventInvokeConfig).
  'ReconcileFunctionEventInvokeConfigE10D2BD2',
]);

const BASELINE = baseline as Record<string, LogicalIds>;

describe('logical ids of every synthesized stack', { timeout: 120_000 }, () => {
  for (const context of CONTEXTS) {
    it(`keeps every baseline id with its type for ${contextKey(context)}`, () => {
      const expected = BASELINE[contextKey(context)];
      expect(expected, 'no baseline for this context: run test/lib/logical-ids.gen.ts').toBeDefined();
      expect(lostIds(expected!, logicalIdsOf(context), RETIRED)).toEqual([]);
    });
  }
});

describe('lostIds', () => {
  const before: LogicalIds = { Auth: { QueueA: 'AWS::SQS::Queue', FunctionB: 'AWS::Lambda::Function' } };

  it('names an id that is gone, one whose type changed and a stack that is gone', () => {
    expect(lostIds(before, { Auth: { FunctionB: 'AWS::Lambda::Url' } }, new Set())).toEqual([
      'Auth QueueA: AWS::SQS::Queue -> absent',
      'Auth FunctionB: AWS::Lambda::Function -> AWS::Lambda::Url',
    ]);
    expect(lostIds(before, {}, new Set())).toHaveLength(2);
  });

  it('accepts added ids and ignores a retired one', () => {
    const after = { Auth: { FunctionB: 'AWS::Lambda::Function', Added: 'AWS::SNS::Topic' } };
    expect(lostIds(before, after, new Set(['QueueA']))).toEqual([]);
  });
});
