// sync.sign_up (sql/functions/sync/sign_up.sql and the insert_user it calls), logged in as the roles that call it.
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, at, connectAs, erase, reset, row, signUp, useDatabase } from '../../fixtures';

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

  it('changes nothing when the same sign-up is retried', async () => {
    await signUp('s-1', 'a@example.com', ['alice'], at(1));
    const before = await row('s-1');
    expect(await signUp('s-1', 'a@example.com', ['alice'], at(1))).toEqual({
      outcome: 'unchanged',
      handle_adjusted: false,
    });
    expect(await row('s-1')).toEqual(before);
  });

  it('refreshes email and name from a newer state but never the handle', async () => {
    await signUp('s-1', 'a@example.com', ['alice'], at(1));
    expect(await signUp('s-1', 'b@example.com', ['bob'], at(2))).toEqual({
      outcome: 'updated',
      handle_adjusted: false,
    });
    expect(await row('s-1')).toMatchObject({ email: 'b@example.com', handle: 'alice', synced_at: new Date(at(2)) });
  });

  it('writes nothing for an older state', async () => {
    await signUp('s-1', 'b@example.com', ['alice'], at(2));
    const before = await row('s-1');
    expect(await signUp('s-1', 'a@example.com', ['alice'], at(1))).toEqual({
      outcome: 'stale',
      handle_adjusted: false,
    });
    expect(await row('s-1')).toEqual(before);
  });

  it('moves synced_at on a newer state with the same values, so that an older state read in between loses', async () => {
    await signUp('s-1', 'a@example.com', ['alice'], at(1));
    expect((await signUp('s-1', 'a@example.com', ['alice'], at(3))).outcome).toBe('unchanged');
    expect((await signUp('s-1', 'b@example.com', ['alice'], at(2))).outcome).toBe('stale');
    expect(await row('s-1')).toMatchObject({ email: 'a@example.com', synced_at: new Date(at(3)) });
  });

  it('overrides a row written before synced_at existed', async () => {
    await admin.query(
      "INSERT INTO public.users (cognito_user_id, email, handle) VALUES ('s-old', 'old@example.com', 'old')",
    );
    expect((await signUp('s-old', 'new@example.com', ['old'], at(1))).outcome).toBe('updated');
    expect(await row('s-old')).toMatchObject({ email: 'new@example.com', synced_at: new Date(at(1)) });
  });

  it('refuses a tombstoned user and writes nothing', async () => {
    await erase('s-gone', 'delete');
    expect(await signUp('s-gone', 'a@example.com', ['alice'], at(1))).toEqual({
      outcome: 'erased',
      handle_adjusted: false,
    });
    expect(await row('s-gone')).toBeUndefined();
  });

  it('leaves an anonymized row anonymized', async () => {
    await signUp('s-anon', 'a@example.com', ['alice'], at(1));
    await erase('s-anon', 'anonymize');
    const before = await row('s-anon');
    expect((await signUp('s-anon', 'a@example.com', ['alice'], at(9))).outcome).toBe('erased');
    expect(await row('s-anon')).toEqual(before);
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
      'inserted',
      'unchanged',
      'unchanged',
      'unchanged',
      'unchanged',
    ]);
    const { rows } = await admin.query("SELECT 1 FROM public.users WHERE cognito_user_id = 's-same'");
    expect(rows).toHaveLength(1);
  });
});
