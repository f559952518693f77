// sync.erase_user (sql/functions/sync/erase_user.sql) and its lock against the insert trigger's.
import { beforeEach, describe, expect, it } from 'vitest';
import {
  admin,
  applyUsers,
  as,
  at,
  connectAs,
  erase,
  failureOf,
  reset,
  row,
  signUp,
  state,
  tombstoned,
  useDatabase,
} from '../../fixtures';

useDatabase();

describe('sync.erase_user', () => {
  beforeEach(reset);

  async function userWithActivity(sub: string): Promise<void> {
    await applyUsers([state(sub, 1)]);
    await admin.query(
      "INSERT INTO public.activities (user_uuid, message) SELECT uuid, 'hello' FROM public.users WHERE cognito_user_id = $1",
      [sub],
    );
  }

  async function activities(): Promise<number> {
    const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM public.activities');
    return rows[0]?.n ?? -1;
  }

  it('deletes the row with its activities and writes the tombstone under the delete policy', async () => {
    await userWithActivity('e-1');
    expect(await erase('e-1', 'delete')).toBe('erased');
    expect(await row('e-1')).toBeUndefined();
    expect(await activities()).toBe(0);
    expect(await tombstoned('e-1')).toBe(true);
  });

  it('keeps the row and its activities without personal data under the anonymize policy', async () => {
    await userWithActivity('e-1');
    expect(await erase('e-1', 'anonymize', as.user_reconciler)).toBe('erased');
    const anonymized = await row('e-1');
    expect(anonymized).toMatchObject({ email: null, display_name: null, handle: null, enabled: false });
    expect(anonymized?.deleted_at).toBeInstanceOf(Date);
    expect(await activities()).toBe(1);
    expect(await tombstoned('e-1')).toBe(true);
  });

  it.each(['delete', 'anonymize'])('changes nothing when the user is erased a second time (%s)', async (policy) => {
    await userWithActivity('e-1');
    await erase('e-1', policy);
    const before = await row('e-1');
    expect(await erase('e-1', policy)).toBe('already_erased');
    expect(await row('e-1')).toEqual(before);
  });

  it('writes the tombstone alone for a user the table never had, which keeps a late sign-up out', async () => {
    expect(await erase('e-never', 'delete')).toBe('absent_tombstoned');
    expect(await tombstoned('e-never')).toBe(true);
    expect((await signUp('e-never', 'late@example.com', ['late'], at(1))).outcome).toBe('erased');
    expect(await row('e-never')).toBeUndefined();
  });

  it('refuses a policy it does not know', async () => {
    expect(await failureOf(erase('e-1', 'forget'))).toBe('22023');
    expect(await tombstoned('e-1')).toBe(false);
  });

  async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
    return Promise.race([
      work.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms)),
    ]);
  }

  it('makes a sign-up wait for an erasure in progress, which it then obeys', async () => {
    const eraser = await connectAs('sync_writer');
    await eraser.query('BEGIN');
    try {
      expect(await erase('race-1', 'delete', eraser)).toBe('absent_tombstoned');
      const signing = signUp('race-1', 'a@example.com', ['race'], at(1), await connectAs('signup_writer'));
      expect(await settlesWithin(signing, 300)).toBe(false);
      await eraser.query('COMMIT');
      expect((await signing).outcome).toBe('erased');
    } finally {
      // A failed expectation must not leave a transaction that holds the next test's TRUNCATE.
      await eraser.query('ROLLBACK');
    }
    expect(await row('race-1')).toBeUndefined();
  });

  it('makes an erasure wait for a sign-up in progress, whose row it then erases', async () => {
    const signer = await connectAs('signup_writer');
    await signer.query('BEGIN');
    try {
      expect((await signUp('race-2', 'a@example.com', ['race'], at(1), signer)).outcome).toBe('inserted');
      const erasing = erase('race-2', 'delete', await connectAs('sync_writer'));
      expect(await settlesWithin(erasing, 300)).toBe(false);
      await signer.query('COMMIT');
      expect(await erasing).toBe('erased');
    } finally {
      await signer.query('ROLLBACK');
    }
    expect(await row('race-2')).toBeUndefined();
  });
});
