// sync.restore_user (sql/functions/sync/restore_user.sql): a wrong erasure undone by removing the tombstone, after
// which the next reconcile writes the user back; logged in as each function role to show who may.
import { beforeEach, describe, expect, it } from 'vitest';
import {
  applyUsers,
  as,
  erase,
  failureOf,
  ghosts,
  outcomes,
  reset,
  restoreUser,
  ROLES,
  row,
  signUp,
  at,
  state,
  tombstoned,
  useDatabase,
} from '../../fixtures';

useDatabase();

describe('sync.restore_user', () => {
  beforeEach(reset);

  it.each(['delete', 'anonymize'])(
    'removes the tombstone of a user erased by %s, and the next state writes the user back',
    async (policy) => {
      await applyUsers([state('r-1', 1)]);
      await erase('r-1', policy);
      expect(await outcomes([state('r-1', 2)])).toEqual({ 'r-1': 'erased' });
      expect(await restoreUser('r-1')).toBe('restored');
      expect(await tombstoned('r-1')).toBe(false);
      expect(await outcomes([state('r-1', 3)])).toEqual({ 'r-1': 'inserted' });
      expect(await row('r-1')).toMatchObject({ email: 'r-1@example.com', deleted_at: null });
      // An anonymized row stays a ghost: the restored user is a new row, not linked to it.
      expect(await ghosts()).toHaveLength(policy === 'anonymize' ? 1 : 0);
    },
  );

  it('answers not_erased for a sub with no tombstone and changes nothing', async () => {
    await applyUsers([state('r-live', 1)]);
    const before = await row('r-live');
    expect(await restoreUser('r-live')).toBe('not_erased');
    expect(await restoreUser('r-never')).toBe('not_erased');
    expect(await row('r-live')).toEqual(before);
  });

  it('keeps refusing sign-up, replay and reconcile of an erased sub until it is restored', async () => {
    await applyUsers([state('r-2', 1)]);
    await erase('r-2', 'anonymize');
    expect((await signUp('r-2', 'a@example.com', ['again'], at(5))).outcome).toBe('erased');
    expect(await outcomes([state('r-2', 6)], null, as.sync_writer)).toEqual({ 'r-2': 'erased' });
    expect(await outcomes([state('r-2', 6)], null, as.user_reconciler)).toEqual({ 'r-2': 'erased' });
    expect(await row('r-2')).toBeUndefined();
  });

  it('refuses a missing sub', async () => {
    expect(await failureOf(restoreUser(null))).toBe('22004');
  });

  for (const role of ROLES) {
    const may = role === 'user_reconciler';
    it(`${may ? 'lets' : 'refuses'} ${role} ${may ? '' : 'a call of '}sync.restore_user`, async () => {
      await erase('r-role', 'delete');
      expect(await failureOf(restoreUser('r-role', as[role]))).toBe(may ? undefined : '42501');
      expect(await tombstoned('r-role')).toBe(!may);
    });
  }
});
