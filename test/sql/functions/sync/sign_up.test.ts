// sync.sign_up (sql/functions/sync/sign_up.sql and the insert_user it calls), logged in as the roles that call it.
import { beforeEach, describe, expect, it } from 'vitest';
import {
  admin,
  as,
  at,
  connectAs,
  erase,
  failureOf,
  fromNow,
  ghosts,
  outcomes,
  reset,
  row,
  signUp,
  state,
  useDatabase,
} from '../../fixtures';

useDatabase();

describe('sync.sign_up', () => {
  beforeEach(reset);

  it('inserts a new user with the first candidate and the time its state was read', async () => {
    expect(await signUp('s-1', 'a@example.com', ['alice', 'alice_s1'], at(1))).toEqual({
      outcome: 'inserted',
      handle_adjusted: false,
    });
    expect(await row('s-1')).toMatchObject({
      email: 'a@example.com',
      display_name: 'Name s-1',
      handle: 'alice',
      enabled: true,
      synced_at: new Date(at(1)),
    });
  });

  it('leaves an existing row to the writer and the reconcile, whatever state and read_at the sign-up brings', async () => {
    await signUp('s-1', 'a@example.com', ['alice'], at(2));
    const before = await row('s-1');
    for (const [email, readAt] of [
      ['a@example.com', at(2)],
      ['b@example.com', at(3)],
      ['c@example.com', at(1)],
    ] as const) {
      expect(await signUp('s-1', email, ['bob'], readAt)).toEqual({ outcome: 'exists', handle_adjusted: false });
    }
    expect(await row('s-1')).toEqual(before);
  });

  it('leaves a row written before synced_at existed as it is', async () => {
    await admin.query(
      "INSERT INTO public.users (cognito_user_id, email, handle) VALUES ('s-old', 'old@example.com', 'old')",
    );
    const before = await row('s-old');
    expect((await signUp('s-old', 'new@example.com', ['old'], at(1))).outcome).toBe('exists');
    expect(await row('s-old')).toEqual(before);
  });

  it('refuses a read_at more than 5 minutes ahead of the database clock with SY002: no takeover, no frozen row', async () => {
    await signUp('s-1', 'a@example.com', ['alice'], at(1));
    const before = await row('s-1');
    const takeover = as.signup_writer.query('SELECT * FROM sync.sign_up($1, $2, $3, $4, $5)', [
      's-1',
      'attacker@example.com',
      'Mallory',
      [],
      'infinity',
    ]);
    expect(await failureOf(takeover)).toBe('SY002');
    expect(await row('s-1')).toEqual(before);
    // The row still follows the pool: a later state from the writer lands.
    expect(await outcomes([state('s-1', 2, { email: 'b@example.com' })])).toEqual({ 's-1': 'updated' });
  });

  it('refuses a new user read 6 minutes ahead and inserts one read 4 minutes ahead', async () => {
    expect(await failureOf(signUp('s-far', 'a@example.com', ['far'], await fromNow(6)))).toBe('SY002');
    expect(await row('s-far')).toBeUndefined();
    expect((await signUp('s-near', 'b@example.com', ['near'], await fromNow(4))).outcome).toBe('inserted');
  });

  it('refuses a tombstoned user and writes nothing', async () => {
    await erase('s-gone', 'delete');
    expect(await signUp('s-gone', 'a@example.com', ['alice'], at(1))).toEqual({
      outcome: 'erased',
      handle_adjusted: false,
    });
    expect(await row('s-gone')).toBeUndefined();
  });

  it('refuses an anonymized user, whose row no longer carries the sub, and leaves the row as it is', async () => {
    await signUp('s-anon', 'a@example.com', ['alice'], at(1));
    await erase('s-anon', 'anonymize');
    const before = await ghosts();
    expect((await signUp('s-anon', 'a@example.com', ['alice'], at(9))).outcome).toBe('erased');
    expect(await row('s-anon')).toBeUndefined();
    expect(await ghosts()).toEqual(before);
  });

  it('takes the next candidate when a handle is taken ignoring case, and no handle when every one is', async () => {
    await signUp('s-1', null, ['Sam'], at(1));
    expect(await signUp('s-2', null, ['sam', 'sam_2'], at(1))).toEqual({ outcome: 'inserted', handle_adjusted: true });
    expect(await signUp('s-3', null, ['SAM', 'Sam_2'], at(1))).toEqual({ outcome: 'inserted', handle_adjusted: true });
    expect((await row('s-2'))?.handle).toBe('sam_2');
    expect((await row('s-3'))?.handle).toBeNull();
  });

  it('stores no handle and no adjustment when the user asked for none', async () => {
    expect(await signUp('s-1', null, [null], at(1))).toEqual({ outcome: 'inserted', handle_adjusted: false });
    expect((await row('s-1'))?.handle).toBeNull();
  });

  it('lands 10 concurrent sign-ups for one handle with 10 distinct handles', async () => {
    const writers = await Promise.all(Array.from({ length: 10 }, () => connectAs('signup_writer')));
    // The subs share their first 8 hex digits, so the second candidate collides too, as the handle rule's can.
    const subs = writers.map((_, i) => `aaaaaaaa-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const results = await Promise.all(
      writers.map((writer, i) => {
        const sub = subs[i]!;
        // The last candidate is the sub's own 12 digits: unique, and within the handle rule's 32 characters.
        return signUp(sub, null, ['sam', 'sam_aaaaaaaa', `sam_${sub.slice(-12)}`, null], at(1), writer);
      }),
    );
    expect(results.map((result) => result.outcome)).toEqual(Array(10).fill('inserted'));
    expect(results.filter((result) => result.handle_adjusted)).toHaveLength(9);
    const { rows } = await admin.query<{ handle: string }>('SELECT handle FROM public.users ORDER BY handle');
    const handles = rows.map((user) => user.handle);
    expect(new Set(handles.map((handle) => handle.toLowerCase())).size).toBe(10);
    expect(handles).toEqual(expect.arrayContaining(['sam', 'sam_aaaaaaaa']));
  });

  it('inserts once when the same sign-up arrives on 5 connections at once', async () => {
    const writers = await Promise.all(Array.from({ length: 5 }, () => connectAs('signup_writer')));
    const results = await Promise.all(
      writers.map((writer) => signUp('s-same', 'a@example.com', ['same'], at(1), writer)),
    );
    expect(results.map((result) => result.outcome).sort()).toEqual([
      'exists',
      'exists',
      'exists',
      'exists',
      'inserted',
    ]);
    const { rows } = await admin.query("SELECT 1 FROM public.users WHERE cognito_user_id = 's-same'");
    expect(rows).toHaveLength(1);
  });
});
