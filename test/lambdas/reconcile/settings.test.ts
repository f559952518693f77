import { describe, expect, it } from 'vitest';
import { settingsFromEnv } from '../../../lambdas/reconcile/settings';

const BASE = { USER_POOL_ID: 'us-east-1_TestPool1', CONNECTION_URL: 'postgres://u:p@127.0.0.1:5432/db' };

describe('reconcile settings', () => {
  it('defaults to 5 ListUsers requests/s, the delete policy and prune on', () => {
    expect(settingsFromEnv(BASE)).toEqual({
      database: { connectionUrl: BASE.CONNECTION_URL },
      userPoolId: BASE.USER_POOL_ID,
      erasurePolicy: 'delete',
      listRate: 5,
      prune: true,
    });
  });

  it('reads the rate, the policy and the prune default', () => {
    expect(
      settingsFromEnv({ ...BASE, RECONCILE_RATE: '2.5', ERASURE_POLICY: 'anonymize', RECONCILE_PRUNE: 'false' }),
    ).toMatchObject({
      listRate: 2.5,
      erasurePolicy: 'anonymize',
      prune: false,
    });
  });

  it('names the variable that is wrong', () => {
    expect(() => settingsFromEnv({ CONNECTION_URL: BASE.CONNECTION_URL })).toThrow(
      'Configuration error: USER_POOL_ID is not set',
    );
    expect(() => settingsFromEnv({ ...BASE, USER_POOL_ID: 'pool; rm' })).toThrow(/USER_POOL_ID is not a user pool id/);
    expect(() => settingsFromEnv({ ...BASE, RECONCILE_RATE: '31' })).toThrow(/RECONCILE_RATE must be .* at most 30/);
    expect(() => settingsFromEnv({ ...BASE, RECONCILE_RATE: '0' })).toThrow(/RECONCILE_RATE/);
    expect(() => settingsFromEnv({ ...BASE, RECONCILE_RATE: 'fast' })).toThrow(/RECONCILE_RATE/);
    expect(() => settingsFromEnv({ ...BASE, ERASURE_POLICY: 'shred' })).toThrow(
      'Configuration error: ERASURE_POLICY must be delete or anonymize',
    );
    expect(() => settingsFromEnv({ ...BASE, RECONCILE_PRUNE: 'yes' })).toThrow(
      'Configuration error: RECONCILE_PRUNE must be true or false',
    );
  });
});
