import { describe, expect, it } from 'vitest';
import { settingsFromEnv } from '../../../lambdas/reconcile/settings';

const BASE = {
  USER_POOL_ID: 'us-east-1_TestPool1',
  RECONCILE_STORE_FUNCTION: 'Cruddur-dev-Auth-ReconcileFunction-Ab12',
};

describe('reconcile settings', () => {
  it('defaults to 5 ListUsers requests/s, the delete policy, prune on and the default prune limit', () => {
    expect(settingsFromEnv(BASE)).toEqual({
      userPoolId: BASE.USER_POOL_ID,
      erasurePolicy: 'delete',
      listRate: 5,
      prune: true,
      storeFunction: BASE.RECONCILE_STORE_FUNCTION,
      functionName: 'reconcile',
    });
  });

  it('reads the rate, the policy, the prune default, the prune limit and the function name', () => {
    expect(
      settingsFromEnv({
        ...BASE,
        RECONCILE_RATE: '2.5',
        ERASURE_POLICY: 'anonymize',
        RECONCILE_PRUNE: 'false',
        RECONCILE_MAX_PRUNE: '250',
        AWS_LAMBDA_FUNCTION_NAME: 'Cruddur-dev-Auth-ReconcileRunner',
      }),
    ).toMatchObject({
      listRate: 2.5,
      erasurePolicy: 'anonymize',
      prune: false,
      maxPrune: 250,
      functionName: 'Cruddur-dev-Auth-ReconcileRunner',
    });
    // Empty, as a template may declare it: the default limit.
    expect(settingsFromEnv({ ...BASE, RECONCILE_MAX_PRUNE: '' })).not.toHaveProperty('maxPrune');
    expect(settingsFromEnv({ ...BASE, RECONCILE_MAX_PRUNE: '1' })).toMatchObject({ maxPrune: 1 });
    expect(() => settingsFromEnv({ ...BASE, RECONCILE_MAX_PRUNE: '0' })).toThrow(/RECONCILE_MAX_PRUNE.*1 or more/);
    expect(
      settingsFromEnv({
        ...BASE,
        RECONCILE_STORE_FUNCTION: 'arn:aws:lambda:eu-west-1:123456789012:function:Cruddur-dev-ReconcileFunction',
      }).storeFunction,
    ).toMatch(/^arn:aws:lambda:/);
  });

  it('names the variable that is wrong', () => {
    expect(() => settingsFromEnv({ RECONCILE_STORE_FUNCTION: 'f' })).toThrow(
      'Configuration error: USER_POOL_ID is not set',
    );
    expect(() => settingsFromEnv({ ...BASE, USER_POOL_ID: 'pool; rm' })).toThrow(/USER_POOL_ID is not a user pool id/);
    expect(() => settingsFromEnv({ USER_POOL_ID: BASE.USER_POOL_ID })).toThrow(
      'Configuration error: RECONCILE_STORE_FUNCTION is not set',
    );
    expect(() => settingsFromEnv({ ...BASE, RECONCILE_STORE_FUNCTION: 'a function; rm' })).toThrow(
      'Configuration error: RECONCILE_STORE_FUNCTION is not a Lambda function name or ARN',
    );
    expect(() => settingsFromEnv({ ...BASE, RECONCILE_RATE: '31' })).toThrow(/RECONCILE_RATE must be .* at most 30/);
    expect(() => settingsFromEnv({ ...BASE, RECONCILE_RATE: '0' })).toThrow(/RECONCILE_RATE/);
    expect(() => settingsFromEnv({ ...BASE, RECONCILE_RATE: 'fast' })).toThrow(/RECONCILE_RATE/);
    expect(() => settingsFromEnv({ ...BASE, ERASURE_POLICY: 'shred' })).toThrow(
      'Configuration error: ERASURE_POLICY must be delete or anonymize',
    );
    expect(() => settingsFromEnv({ ...BASE, RECONCILE_PRUNE: 'yes' })).toThrow(
      'Configuration error: RECONCILE_PRUNE must be true or false',
    );
    for (const bad of ['-1', '1.5', 'ten', '1e3', '99999999999999999999'])
      expect(() => settingsFromEnv({ ...BASE, RECONCILE_MAX_PRUNE: bad })).toThrow(
        'Configuration error: RECONCILE_MAX_PRUNE must be a whole number of rows, 1 or more',
      );
  });
});
