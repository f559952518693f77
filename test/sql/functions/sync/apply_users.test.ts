// sync.apply_users (sql/functions/sync/apply_users.sql, apply_batch and insert_user), as the sync writer calls it.
import { beforeEach, describe, expect, it } from 'vitest';
import {
  admin,
  applyUsers,
  at,
  erase,
  failureOf,
  fromNow,
  ghosts,
  outcomes,
  reset,
  row,
  state,
  useDatabase,
} from '../../fixtures';

useDatabase();

describe('sync.apply_users', () => {
  beforeEach(reset);

  it('inserts an absent user with every field of its state', async () => {
    expect(await outcomes([state('u-1', 1, { handle_candidates: ['first', 'second'], enabled: false })])).toEqual({
      'u-1': 'inserted',
    });
    expect(await row('u-1')).toMatchObject({
      email: 'u-1@example.com',
      display_name: 'Name u-1',
      handle: 'first',
      enabled: false,
      synced_at: new Date(at(1)),
      pool_modified_at: new Date(at(1)),
    });
  });

  it.each([
    ['email', { email: 'new@example.com' }, { email: 'new@example.com' }],
    ['name', { name: 'New Name' }, { display_name: 'New Name' }],
    ['enabled', { enabled: false }, { enabled: false }],
    ['handle', { handle: 'newhandle' }, { handle: 'newhandle' }],
  ])('updates the %s from a newer state', async (_field, change, expected) => {
    await applyUsers([state('u-1', 1)]);
    expect(await outcomes([state('u-1', 2, change)])).toEqual({ 'u-1': 'updated' });
    expect(await row('u-1')).toMatchObject({
      ...expected,
      synced_at: new Date(at(2)),
      pool_modified_at: new Date(at(2)),
    });
  });

  it('disables and enables a user again', async () => {
    await applyUsers([state('u-1', 1)]);
    await applyUsers([state('u-1', 2, { enabled: false })]);
    expect((await row('u-1'))?.enabled).toBe(false);
    await applyUsers([state('u-1', 3, { enabled: true })]);
    expect((await row('u-1'))?.enabled).toBe(true);
  });

  it('never rolls a newer state back with an older one', async () => {
    await applyUsers([state('u-1', 5, { enabled: false, email: 'newer@example.com' })]);
    const before = await row('u-1');
    expect(await outcomes([state('u-1', 4, { enabled: true, email: 'older@example.com', handle: 'older' })])).toEqual({
      'u-1': 'stale',
    });
    expect(await row('u-1')).toEqual(before);
  });

  it('writes nothing for a duplicate delivery', async () => {
    await applyUsers([state('u-1', 1)]);
    const before = await row('u-1');
    expect(await outcomes([state('u-1', 1)])).toEqual({ 'u-1': 'unchanged' });
    expect(await row('u-1')).toEqual(before);
  });

  it('never resurrects a deleted user, nor refills an anonymized one', async () => {
    await applyUsers([state('u-del', 1), state('u-anon', 1)]);
    await erase('u-del', 'delete');
    await erase('u-anon', 'anonymize');
    const anonymized = await ghosts();
    expect(await outcomes([state('u-del', 9), state('u-anon', 9)])).toEqual({ 'u-del': 'erased', 'u-anon': 'erased' });
    expect(await row('u-del')).toBeUndefined();
    expect(await row('u-anon')).toBeUndefined();
    expect(await ghosts()).toEqual(anonymized);
  });

  it('moves the handle when it is free and keeps it when another user holds it ignoring case', async () => {
    await applyUsers([state('u-1', 1, { handle: 'one' }), state('u-2', 1, { handle: 'Two' })]);
    expect(await outcomes([state('u-1', 2, { handle: 'TWO' })])).toEqual({ 'u-1': 'updated_handle_conflict' });
    expect(await row('u-1')).toMatchObject({ handle: 'one', synced_at: new Date(at(2)) });
    expect(await outcomes([state('u-1', 3, { handle: 'uno' })])).toEqual({ 'u-1': 'updated' });
    expect((await row('u-1'))?.handle).toBe('uno');
    // A user may change the case of its own handle.
    expect(await outcomes([state('u-2', 3, { handle: 'two' })])).toEqual({ 'u-2': 'updated' });
    expect((await row('u-2'))?.handle).toBe('two');
  });

  it('keeps the handle when the pool names none', async () => {
    await applyUsers([state('u-1', 1, { handle: 'one' })]);
    await applyUsers([state('u-1', 2, { handle: null })]);
    expect((await row('u-1'))?.handle).toBe('one');
  });

  it('gives a free handle two users of one batch ask for to one of them', async () => {
    await applyUsers([state('u-1', 1, { handle: 'one' }), state('u-2', 1, { handle: 'two' })]);
    const result = await outcomes([state('u-1', 2, { handle: 'wanted' }), state('u-2', 2, { handle: 'wanted' })]);
    expect(Object.values(result).sort()).toEqual(['updated', 'updated_handle_conflict']);
    const { rows } = await admin.query("SELECT 1 FROM public.users WHERE handle = 'wanted'");
    expect(rows).toHaveLength(1);
  });

  it('refuses a user whose state does not parse, naming the SQLSTATE', async () => {
    const results = await applyUsers([state('u-1', 1, { enabled: 'maybe' }), state('u-2', 1)]);
    expect(results).toEqual([
      { cognito_user_id: 'u-1', outcome: 'refused', error_code: '22P02' },
      { cognito_user_id: 'u-2', outcome: 'inserted', error_code: null },
    ]);
  });

  it('refuses with SY002 only the users read more than 5 minutes ahead of the database clock, and lands the rest', async () => {
    await applyUsers([state('u-held', 1)]);
    const before = await row('u-held');
    const results = await applyUsers([
      state('u-held', 1, { email: 'attacker@example.com', read_at: 'infinity' }),
      state('u-new', 1, { read_at: await fromNow(6) }),
      state('u-ok', 1, { read_at: await fromNow(4) }),
    ]);
    expect(results).toEqual([
      { cognito_user_id: 'u-held', outcome: 'refused', error_code: 'SY002' },
      { cognito_user_id: 'u-new', outcome: 'refused', error_code: 'SY002' },
      { cognito_user_id: 'u-ok', outcome: 'inserted', error_code: null },
    ]);
    expect(await row('u-held')).toEqual(before);
    expect(await row('u-new')).toBeUndefined();
  });

  it('refuses a state without read_at, which cannot be ordered', async () => {
    const results = await applyUsers([{ sub: 'u-1', enabled: true }]);
    expect(results).toEqual([{ cognito_user_id: 'u-1', outcome: 'refused', error_code: '22004' }]);
  });

  it('applies two states of one sub in one batch in their order', async () => {
    expect(
      await applyUsers([
        state('u-1', 1, { email: 'first@example.com' }),
        state('u-1', 2, { email: 'second@example.com' }),
      ]),
    ).toEqual([
      { cognito_user_id: 'u-1', outcome: 'inserted', error_code: null },
      { cognito_user_id: 'u-1', outcome: 'updated', error_code: null },
    ]);
    expect(
      await applyUsers([
        state('u-1', 4, { email: 'fourth@example.com' }),
        state('u-1', 3, { email: 'third@example.com' }),
      ]),
    ).toEqual([
      { cognito_user_id: 'u-1', outcome: 'updated', error_code: null },
      { cognito_user_id: 'u-1', outcome: 'stale', error_code: null },
    ]);
    expect((await row('u-1'))?.email).toBe('fourth@example.com');
  });

  it('writes nothing for a user seen only', async () => {
    expect(await outcomes([{ sub: 'u-unconfirmed', seen_only: true }])).toEqual({ 'u-unconfirmed': 'seen' });
    expect(await row('u-unconfirmed')).toBeUndefined();
  });

  it('refuses a batch larger than one ListUsers page', async () => {
    const users = Array.from({ length: 61 }, (_, i) => state(`u-${i}`, 1));
    expect(await failureOf(applyUsers(users))).toBe('54000');
  });

  it('refuses a run that is not open', async () => {
    expect(await failureOf(applyUsers([state('u-1', 1)], '999'))).toBe('55000');
    expect(await row('u-1')).toBeUndefined();
  });

  it('converges on the latest state whatever order and how often the states arrive', async () => {
    // Handles of three characters or more: the handle rule's minimum.
    const states = [
      state('u-c', 1, { email: 'one@example.com', handle: 'cc1' }),
      state('u-c', 2, { enabled: false }),
      state('u-c', 3, { name: 'Renamed', handle: 'cc3' }),
      state('u-c', 4, { email: 'four@example.com', enabled: true }),
      state('u-c', 5, { email: 'five@example.com', handle: 'cc5', enabled: false }),
    ];
    const latest = states[4]!;
    // A fixed linear congruential sequence: the same "random" deliveries on every run.
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let round = 0; round < 5; round += 1) {
      await reset();
      const deliveries = [...states, ...Array.from({ length: 10 }, () => states[next() % states.length]!)];
      for (let i = deliveries.length - 1; i > 0; i -= 1) {
        const j = next() % (i + 1);
        [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!];
      }
      for (const delivery of deliveries) await applyUsers([delivery, state(`other-${next() % 3}`, next() % 5)]);
      expect(await row('u-c'), `round ${round}`).toMatchObject({
        email: latest.email,
        display_name: latest.name,
        handle: 'cc5',
        enabled: false,
        synced_at: new Date(at(5)),
      });
    }
  });
});
