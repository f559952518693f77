// The memberships' writers (sql/functions/sync/set_user_groups.sql, apply_group_members.sql, end_group_members.sql,
// delete_group.sql, prune_groups.sql) and the erasure trigger (forget_erased_groups.sql), logged in as the roles
// that call them; and proof that no role but through them writes a membership.
import type { Client } from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, applyUsers, as, at, erase, failureOf, reset, ROLES, state, useDatabase } from '../../fixtures';

useDatabase();

async function setGroups(sub: string, groups: readonly string[], readAt: string, client: Client = as.sync_writer) {
  const { rows } = await client.query<{ outcome: string }>('SELECT sync.set_user_groups($1, $2, $3) AS outcome', [
    sub,
    groups,
    readAt,
  ]);
  return rows[0]?.outcome;
}

async function applyMembers(group: string, subs: readonly string[], readAt: string) {
  const { rows } = await as.user_reconciler.query<{ cognito_user_id: string; outcome: string }>(
    'SELECT * FROM sync.apply_group_members($1, $2, $3)',
    [group, subs, readAt],
  );
  return rows.map((r) => [r.cognito_user_id, r.outcome]);
}

async function deleteGroup(group: string, readAt: string, client: Client = as.sync_writer): Promise<number> {
  const { rows } = await client.query<{ removed: string }>('SELECT sync.delete_group($1, $2) AS removed', [
    group,
    readAt,
  ]);
  return Number(rows[0]?.removed);
}

/** The user's groups, by name. */
async function groupsOf(sub: string): Promise<string[]> {
  const { rows } = await admin.query<{ group_name: string }>(
    `SELECT g.group_name FROM public.user_groups g JOIN public.users u ON u.uuid = g.user_uuid
      WHERE u.cognito_user_id = $1 ORDER BY g.group_name`,
    [sub],
  );
  return rows.map((r) => r.group_name);
}

async function membershipCount(): Promise<number> {
  const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM public.user_groups');
  return rows[0]?.n ?? -1;
}

async function minutesFromNow(minutes: number): Promise<string> {
  const { rows } = await admin.query<{ at: Date }>("SELECT clock_timestamp() + $1 * interval '1 minute' AS at", [
    minutes,
  ]);
  return rows[0]!.at.toISOString();
}

beforeEach(async () => {
  await reset();
  await admin.query('TRUNCATE sync.deleted_groups');
  await applyUsers([state('g-1', 0), state('g-2', 0), state('g-3', 0)]);
});

describe('sync.set_user_groups', () => {
  it("replaces the user's memberships with the pool's list, duplicates counted once", async () => {
    expect(await setGroups('g-1', ['admins', 'editors', 'admins'], at(1))).toBe('updated');
    expect(await groupsOf('g-1')).toEqual(['admins', 'editors']);
    expect(await setGroups('g-1', ['editors', 'moderators'], at(2), as.user_reconciler)).toBe('updated');
    expect(await groupsOf('g-1')).toEqual(['editors', 'moderators']);
    expect(await setGroups('g-1', [], at(3))).toBe('updated');
    expect(await groupsOf('g-1')).toEqual([]);
    expect(await groupsOf('g-2')).toEqual([]);
  });

  it('says unchanged for the same list read later, and for the same list delivered twice', async () => {
    await setGroups('g-1', ['admins'], at(1));
    expect(await setGroups('g-1', ['admins'], at(1))).toBe('unchanged');
    expect(await setGroups('g-1', ['admins'], at(2))).toBe('unchanged');
    expect(await groupsOf('g-1')).toEqual(['admins']);
  });

  it('converges on the latest list when an add and a remove arrive in the wrong order', async () => {
    // Read at 2: the user was removed from admins. Read at 1, delivered later: still in it.
    await setGroups('g-1', ['admins'], at(0));
    expect(await setGroups('g-1', [], at(2))).toBe('updated');
    expect(await setGroups('g-1', ['admins'], at(1))).toBe('stale');
    expect(await groupsOf('g-1')).toEqual([]);
    // And the other way round: the add read later wins over the removal read earlier.
    expect(await setGroups('g-2', ['admins'], at(4))).toBe('updated');
    expect(await setGroups('g-2', [], at(3))).toBe('stale');
    expect(await groupsOf('g-2')).toEqual(['admins']);
  });

  it('refuses another list carrying the same read_at as the one written', async () => {
    await setGroups('g-1', ['admins'], at(1));
    expect(await setGroups('g-1', ['editors'], at(1))).toBe('stale');
    expect(await groupsOf('g-1')).toEqual(['admins']);
  });

  it('keeps a membership a reconcile page saw after the list was read', async () => {
    await setGroups('g-1', ['admins'], at(1));
    expect(await applyMembers('editors', ['g-1'], at(5))).toEqual([['g-1', 'added']]);
    // A list read at 3, before the user joined editors (seen at 5), delivered now.
    expect(await setGroups('g-1', ['admins'], at(3))).toBe('unchanged');
    expect(await groupsOf('g-1')).toEqual(['admins', 'editors']);
  });

  it('writes nothing for a sub the table does not have, and says so', async () => {
    expect(await setGroups('g-unknown', ['admins'], at(1))).toBe('no_user');
    expect(await membershipCount()).toBe(0);
  });

  it.each(['delete', 'anonymize'])('writes nothing for a user erased under %s', async (policy) => {
    await erase('g-1', policy);
    expect(await setGroups('g-1', ['admins'], at(1))).toBe('erased');
    expect(await membershipCount()).toBe(0);
  });

  it('refuses a read_at more than 5 minutes ahead of the database clock with SY002, writing nothing', async () => {
    await setGroups('g-1', ['admins'], at(1));
    expect(await failureOf(setGroups('g-1', [], await minutesFromNow(6)))).toBe('SY002');
    expect(await groupsOf('g-1')).toEqual(['admins']);
    // Within the 5 minutes, clocks that differ a little are accepted.
    expect(await setGroups('g-1', [], await minutesFromNow(4))).toBe('updated');
  });

  it('refuses a missing argument and a group name Cognito could not have, naming neither value', async () => {
    expect(await failureOf(setGroups('g-1', ['admins', ''], at(1)))).toBe('22023');
    expect(await failureOf(setGroups('g-1', ['x'.repeat(129)], at(1)))).toBe('22023');
    expect(await failureOf(as.sync_writer.query('SELECT sync.set_user_groups($1, NULL, $2)', ['g-1', at(1)]))).toBe(
      '22004',
    );
    expect(await membershipCount()).toBe(0);
  });
});

describe('sync.apply_group_members and sync.end_group_members (the reconcile)', () => {
  it('adds the group to each listed user, in sub order, and removes nobody', async () => {
    await setGroups('g-3', ['admins'], at(1));
    expect(await applyMembers('editors', ['g-2', 'g-1', 'g-2', 'g-unknown'], at(2))).toEqual([
      ['g-1', 'added'],
      ['g-2', 'added'],
      ['g-unknown', 'no_user'],
    ]);
    expect(await applyMembers('editors', ['g-1'], at(3))).toEqual([['g-1', 'unchanged']]);
    expect(await groupsOf('g-1')).toEqual(['editors']);
    expect(await groupsOf('g-3')).toEqual(['admins']);
  });

  it('skips a user whose whole list was read after the page, and an erased user', async () => {
    await setGroups('g-1', [], at(5));
    await erase('g-2', 'anonymize');
    expect(await applyMembers('admins', ['g-1', 'g-2'], at(4))).toEqual([
      ['g-1', 'stale'],
      ['g-2', 'erased'],
    ]);
    expect(await membershipCount()).toBe(0);
  });

  it('removes, after the last page, the members no page of the scan listed', async () => {
    await setGroups('g-1', ['admins'], at(1));
    await setGroups('g-2', ['admins'], at(1));
    // Joined during the scan, through the event path: seen after the scan started.
    await setGroups('g-3', ['admins'], at(11));
    expect(await applyMembers('admins', ['g-1'], at(12))).toEqual([['g-1', 'unchanged']]);
    const { rows } = await as.user_reconciler.query<{ removed: string }>(
      'SELECT sync.end_group_members($1, $2) AS removed',
      ['admins', at(10)],
    );
    expect(rows[0]?.removed).toBe('1');
    expect(await groupsOf('g-1')).toEqual(['admins']);
    expect(await groupsOf('g-2')).toEqual([]);
    expect(await groupsOf('g-3')).toEqual(['admins']);
  });

  it('refuses more than a page of subs, and a read_at ahead, writing nothing', async () => {
    const subs = Array.from({ length: 61 }, (_, i) => `g-many-${i}`);
    expect(await failureOf(applyMembers('admins', subs, at(1)))).toBe('54000');
    expect(await failureOf(applyMembers('admins', ['g-1'], await minutesFromNow(6)))).toBe('SY002');
    expect(
      await failureOf(
        as.user_reconciler.query('SELECT sync.end_group_members($1, $2)', ['admins', await minutesFromNow(6)]),
      ),
    ).toBe('SY002');
    expect(await membershipCount()).toBe(0);
  });
});

describe('a deleted group', () => {
  it('loses its memberships, and a list read before the deletion does not bring it back', async () => {
    await setGroups('g-1', ['admins', 'editors'], at(1));
    await setGroups('g-2', ['admins'], at(1));
    expect(await deleteGroup('admins', at(3))).toBe(2);
    expect(await groupsOf('g-1')).toEqual(['editors']);
    expect(await groupsOf('g-2')).toEqual([]);
    // A list read at 2, before the deletion, delivered after it: the rest of it is written, the group is not.
    expect(await setGroups('g-2', ['admins', 'editors'], at(2))).toBe('updated');
    expect(await groupsOf('g-2')).toEqual(['editors']);
    expect(await applyMembers('admins', ['g-3'], at(2))).toEqual([['g-3', 'stale']]);
    // The same deletion delivered again removes nothing more.
    expect(await deleteGroup('admins', at(3), as.user_reconciler)).toBe(0);
  });

  it('comes back when it is made again and a user is added after the deletion', async () => {
    await setGroups('g-1', ['admins'], at(1));
    await deleteGroup('admins', at(3));
    expect(await setGroups('g-1', ['admins'], at(4))).toBe('updated');
    expect(await groupsOf('g-1')).toEqual(['admins']);
    // A deletion delivered late that was read before the new membership was seen leaves it.
    expect(await deleteGroup('admins', at(2))).toBe(0);
    expect(await groupsOf('g-1')).toEqual(['admins']);
  });

  it('is found by the reconcile: groups the pool no longer lists are deleted', async () => {
    await setGroups('g-1', ['admins', 'editors', 'old'], at(1));
    await setGroups('g-2', ['gone'], at(1));
    const { rows } = await as.user_reconciler.query<{ group_name: string; removed: string }>(
      'SELECT * FROM sync.prune_groups($1, $2)',
      [['admins', 'editors'], at(5)],
    );
    expect(rows).toEqual([
      { group_name: 'gone', removed: '1' },
      { group_name: 'old', removed: '1' },
    ]);
    expect(await groupsOf('g-1')).toEqual(['admins', 'editors']);
    expect(await groupsOf('g-2')).toEqual([]);
    expect(await setGroups('g-2', ['gone'], at(4))).toBe('unchanged');
    expect(await groupsOf('g-2')).toEqual([]);
  });

  it('refuses a read_at ahead of the database clock with SY002, removing nothing', async () => {
    await setGroups('g-1', ['admins'], at(1));
    expect(await failureOf(deleteGroup('admins', await minutesFromNow(6)))).toBe('SY002');
    expect(await groupsOf('g-1')).toEqual(['admins']);
  });
});

describe('erasure', () => {
  it.each(['delete', 'anonymize'])("removes the user's memberships under %s, and nobody else's", async (policy) => {
    await setGroups('g-1', ['admins', 'editors'], at(1));
    await setGroups('g-2', ['admins'], at(1));
    expect(await erase('g-1', policy)).toBe('erased');
    expect(await membershipCount()).toBe(1);
    expect(await groupsOf('g-2')).toEqual(['admins']);
  });
});

describe('who may write memberships', () => {
  it.each(ROLES)('%s cannot read or write public.user_groups or sync.deleted_groups directly', async (role) => {
    const client = as[role];
    expect(await failureOf(client.query('SELECT 1 FROM public.user_groups'))).toBe('42501');
    expect(await failureOf(client.query('DELETE FROM public.user_groups'))).toBe('42501');
    expect(
      await failureOf(
        client.query(
          "INSERT INTO public.user_groups (user_uuid, group_name, seen_at) SELECT uuid, 'admins', now() FROM public.users",
        ),
      ),
    ).toBe('42501');
    expect(await failureOf(client.query('DELETE FROM sync.deleted_groups'))).toBe('42501');
  });

  it('lets only the writer and the reconcile call the event-path functions, and only the reconcile the scan', async () => {
    const may = async (role: (typeof ROLES)[number], fn: string) => {
      const { rows } = await admin.query<{ ok: boolean }>("SELECT has_function_privilege($1, $2, 'EXECUTE') AS ok", [
        role,
        fn,
      ]);
      return rows[0]?.ok;
    };
    const functions: Record<string, readonly string[]> = {
      'sync.set_user_groups(text, text[], timestamptz)': ['sync_writer', 'user_reconciler'],
      'sync.delete_group(text, timestamptz)': ['sync_writer', 'user_reconciler'],
      'sync.apply_group_members(text, text[], timestamptz)': ['user_reconciler'],
      'sync.end_group_members(text, timestamptz)': ['user_reconciler'],
      'sync.prune_groups(text[], timestamptz)': ['user_reconciler'],
      'sync.forget_erased_groups()': [],
      'sync.remove_group_members(text, timestamptz)': [],
    };
    for (const [fn, allowed] of Object.entries(functions)) {
      for (const role of ROLES)
        expect({ fn, role, may: await may(role, fn) }).toEqual({ fn, role, may: allowed.includes(role) });
    }
    expect(await failureOf(setGroups('g-1', ['admins'], at(1), as.signup_writer))).toBe('42501');
    expect(await failureOf(setGroups('g-1', ['admins'], at(1), as.handle_checker))).toBe('42501');
  });
});
