// sync.bind_pool and sync.adopt_pool (sql/functions/sync/): the user pool the database is kept in step with,
// logged in as each function role to show who may bind, and that no function role may adopt.
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, as, bindPool, failureOf, reset, ROLES, useDatabase } from '../../fixtures';

useDatabase();

async function binding(): Promise<string[]> {
  const { rows } = await admin.query<{ user_pool_id: string }>('SELECT user_pool_id FROM sync.pool_binding');
  return rows.map((row) => row.user_pool_id);
}

async function adopt(poolId: string | null): Promise<string | null> {
  const { rows } = await admin.query<{ previous: string | null }>('SELECT sync.adopt_pool($1) AS previous', [poolId]);
  return rows[0]!.previous;
}

describe('sync.bind_pool', () => {
  beforeEach(reset);

  it('binds the first pool it is given and answers same for it from then on', async () => {
    expect(await bindPool('eu-west-1_AAAA')).toBe('bound');
    expect(await bindPool('eu-west-1_AAAA')).toBe('same');
    expect(await binding()).toEqual(['eu-west-1_AAAA']);
  });

  it('refuses another pool with SY001, naming both ids, and keeps the binding', async () => {
    await bindPool('eu-west-1_AAAA');
    const refusal = await as.user_reconciler.query("SELECT sync.bind_pool('eu-west-1_BBBB')").then(
      () => undefined,
      (error: unknown) => error as { code?: string; message?: string },
    );
    expect(refusal?.code).toBe('SY001');
    expect(refusal?.message).toBe('database is kept in step with eu-west-1_AAAA; refusing eu-west-1_BBBB');
    expect(await binding()).toEqual(['eu-west-1_AAAA']);
  });

  it.each([null, ''])('refuses a missing pool id (%j) and binds nothing', async (poolId) => {
    expect(await failureOf(bindPool(poolId))).toBe('22023');
    expect(await binding()).toEqual([]);
  });

  it('binds one pool when two runs bind different pools at once', async () => {
    // The superuser binds too, as the CLI's master connection may.
    const results = await Promise.allSettled([bindPool('eu-west-1_AAAA'), bindPool('eu-west-1_BBBB', admin)]);
    const outcomes = results.map((result) =>
      result.status === 'fulfilled' ? result.value : (result.reason as { code: string }).code,
    );
    expect(outcomes.sort()).toEqual(['SY001', 'bound']);
    expect(await binding()).toHaveLength(1);
  });
});

describe('sync.adopt_pool', () => {
  beforeEach(reset);

  it('replaces the binding and answers the previous pool, after which the new pool binds as same', async () => {
    expect(await adopt('eu-west-1_AAAA')).toBeNull();
    expect(await adopt('eu-west-1_BBBB')).toBe('eu-west-1_AAAA');
    expect(await binding()).toEqual(['eu-west-1_BBBB']);
    expect(await bindPool('eu-west-1_BBBB')).toBe('same');
    expect(await failureOf(bindPool('eu-west-1_AAAA'))).toBe('SY001');
  });

  it('refuses a missing pool id and keeps the binding', async () => {
    await bindPool('eu-west-1_AAAA');
    expect(await failureOf(adopt(''))).toBe('22023');
    expect(await binding()).toEqual(['eu-west-1_AAAA']);
  });
});

describe('who may bind and adopt', () => {
  beforeEach(reset);

  for (const role of ROLES) {
    const mayBind = role === 'user_reconciler';
    it(`${mayBind ? 'lets' : 'refuses'} ${role} ${mayBind ? '' : 'a call of '}sync.bind_pool`, async () => {
      expect(await failureOf(bindPool('eu-west-1_AAAA', as[role]))).toBe(mayBind ? undefined : '42501');
    });

    it(`refuses ${role} sync.adopt_pool and every statement on sync.pool_binding`, async () => {
      await bindPool('eu-west-1_AAAA');
      expect(await failureOf(as[role].query("SELECT sync.adopt_pool('eu-west-1_BBBB')"))).toBe('42501');
      for (const statement of [
        'SELECT * FROM sync.pool_binding',
        "INSERT INTO sync.pool_binding (user_pool_id) VALUES ('eu-west-1_BBBB')",
        "UPDATE sync.pool_binding SET user_pool_id = 'eu-west-1_BBBB'",
        'DELETE FROM sync.pool_binding',
      ]) {
        expect(await failureOf(as[role].query(statement))).toBe('42501');
      }
      expect(await binding()).toEqual(['eu-west-1_AAAA']);
    });
  }
});
