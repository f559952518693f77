// sync.erase_user (sql/functions/sync/erase_user.sql) and its lock against the insert trigger's.
import { beforeEach, describe, expect, it } from 'vitest';
import { errorCode } from '../../../../lambdas/postgres/error-codes';
import {
  admin,
  applyUsers,
  as,
  backendPid,
  connectAdmin,
  at,
  connectAs,
  erase,
  failureOf,
  ghosts,
  reset,
  row,
  signUp,
  state,
  tombstoned,
  useDatabase,
  waitingForLock,
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

  it('keeps the row and its activities under the anonymize policy with no sub and no personal value', async () => {
    await userWithActivity('e-1');
    const { rows: before } = await admin.query<{ uuid: string }>(
      "SELECT uuid FROM public.users WHERE cognito_user_id = 'e-1'",
    );
    expect(await erase('e-1', 'anonymize', as.user_reconciler)).toBe('erased');
    expect(await row('e-1')).toBeUndefined();
    const [ghost, ...others] = await ghosts();
    expect(others).toEqual([]);
    expect(ghost).toMatchObject({
      uuid: before[0]!.uuid,
      email: null,
      display_name: null,
      handle: null,
      enabled: false,
      synced_at: null,
      pool_modified_at: null,
      reconcile_run: null,
    });
    expect(ghost!.cognito_user_id).toMatch(/^erased-[0-9a-f-]{36}$/);
    expect(await activities()).toBe(1);
    // The tombstone holds the sub and when; the row only the day, so the two cannot be matched by the instant.
    const { rows } = await admin.query<Record<string, unknown>>('SELECT * FROM sync.erased_users');
    expect(rows).toEqual([{ cognito_user_id: 'e-1', erased_at: expect.any(Date) as unknown }]);
    const erasedAt = rows[0]!.erased_at as Date;
    expect(ghost!.deleted_at).not.toEqual(erasedAt);
    const { rows: day } = await admin.query<{ day: Date }>("SELECT date_trunc('day', $1::timestamptz, 'UTC') AS day", [
      erasedAt,
    ]);
    expect(ghost!.deleted_at).toEqual(day[0]!.day);
  });

  it('gives every anonymized row an id of its own', async () => {
    await applyUsers([state('e-1', 1), state('e-2', 1)]);
    await erase('e-1', 'anonymize');
    await erase('e-2', 'anonymize');
    const ids = (await ghosts()).map((ghost) => ghost.cognito_user_id);
    expect(new Set(ids).size).toBe(2);
  });

  it.each(['delete', 'anonymize'])('changes nothing when the user is erased a second time (%s)', async (policy) => {
    await userWithActivity('e-1');
    await erase('e-1', policy);
    const before = await ghosts();
    expect(await erase('e-1', policy)).toBe('already_erased');
    expect(await ghosts()).toEqual(before);
    expect(await row('e-1')).toBeUndefined();
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

  it.each(['delete', 'anonymize'])(
    'never deadlocks a batch that inserts x and updates y with an erasure of y, x and y in one lock bucket (%s)',
    async (policy) => {
      // x absent (the batch inserts it), y and z present; x and y share an advisory lock bucket, z sorts last.
      const { rows } = await admin.query<{ sub: string }>(
        `SELECT 'x-' || n AS sub FROM generate_series(1, 1000) AS n
          WHERE hashtext('x-' || n) & 15 = hashtext('y-1') & 15 ORDER BY n LIMIT 1`,
      );
      const x = rows[0]!.sub;
      await applyUsers([state('y-1', 1), state('z-1', 1)]);
      // A third session holds z's row, so the batch stops after locking y's row and before inserting x.
      const batcher = await connectAs('sync_writer');
      const eraser = await connectAs('user_reconciler');
      const [batcherPid, eraserPid] = [await backendPid(batcher), await backendPid(eraser)];
      const zHolder = await connectAdmin();
      await zHolder.query('BEGIN');
      await zHolder.query("SELECT 1 FROM public.users WHERE cognito_user_id = 'z-1' FOR UPDATE");
      const batch = applyUsers([state(x, 2), state('y-1', 2), state('z-1', 2)], null, batcher).then(
        (result) => result.map((entry) => entry.outcome),
        (error: unknown) => errorCode(error),
      );
      await waitingForLock(batcherPid);
      const erasing = erase('y-1', policy, eraser).catch((error: unknown) => errorCode(error));
      await waitingForLock(eraserPid);
      await zHolder.query('COMMIT');
      const [batched, erased] = await Promise.all([batch, erasing]);
      expect({ batched, erased }).toEqual({
        batched: ['inserted', 'unchanged', 'unchanged'],
        erased: 'erased',
      });
      expect(await row('y-1')).toBeUndefined();
      expect(await tombstoned('y-1')).toBe(true);
    },
  );
});
