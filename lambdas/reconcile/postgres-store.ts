// The reconcile's store over the sync.* functions (sql/functions/sync): what the user_reconciler role may call,
// and nothing else. Needs a Queryable that is one connection (a LazyConnection or a pg Client, not a
// Pool): resume and preview each hold a short transaction across two statements.
import type { Queryable } from '../postgres/queryable';
import { APPLY_USERS, eraseUser, usersJson } from '../users/postgres/postgres-users';
import type { BindPoolOutcome, GroupMemberOutcome, RestoreOutcome } from '../users/outcomes';
import type { ApplyOutcome } from '../users/users-repository';
import type { AppliedUser, ReconcileRun, ReconcileStore } from './core';

interface RunRow extends Record<string, unknown> {
  run_id: string;
  started_at: Date;
  pagination_token: string | null;
  pages: number;
  scanned: string;
  resumed: boolean;
}

interface AppliedRow extends Record<string, unknown> {
  cognito_user_id: string;
  outcome: ApplyOutcome;
  error_code: string | null;
}

function toRun(row: RunRow | undefined): ReconcileRun {
  if (row === undefined) throw new Error('sync.begin_reconcile returned no row');
  return {
    runId: String(row.run_id),
    startedAt: row.started_at,
    paginationToken: row.pagination_token,
    pages: Number(row.pages),
    scanned: Number(row.scanned),
    resumed: row.resumed,
  };
}

function toApplied(rows: readonly AppliedRow[]): AppliedUser[] {
  return rows.map((row) => ({ sub: row.cognito_user_id, outcome: row.outcome, errorCode: row.error_code }));
}

const BEGIN =
  'SELECT run_id::text AS run_id, started_at, pagination_token, pages, scanned, resumed FROM sync.begin_reconcile()';

/** Runs `work` in a transaction that is always rolled back, unless `keep` says otherwise for its result. */
async function inTransaction<T>(db: Queryable, work: () => Promise<T>, keep: (result: T) => boolean): Promise<T> {
  await db.query('BEGIN');
  let result: T;
  try {
    result = await work();
  } catch (error) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  await db.query(keep(result) ? 'COMMIT' : 'ROLLBACK');
  return result;
}

export function postgresReconcileStore(db: Queryable): ReconcileStore {
  return {
    bindPool(userPoolId, options = {}) {
      // A dry run gets the same answer (or the same SY001) and leaves no binding behind.
      return options.dryRun === true
        ? inTransaction(
            db,
            () => bindPool(db, userPoolId),
            () => false,
          )
        : bindPool(db, userPoolId);
    },
    pruneSummary: (runId) => pruneSummary(db, runId),
    restore: (sub) => restoreUser(db, sub),
    async begin() {
      return toRun((await db.query<RunRow>(BEGIN)).rows[0]);
    },
    async resume() {
      // begin_reconcile starts a run when none is open; rolled back then, so that 'continue' never starts one.
      // The role cannot read sync.reconcile_runs, which is why it asks this way.
      const run = await inTransaction(
        db,
        async () => toRun((await db.query<RunRow>(BEGIN)).rows[0]),
        (r) => r.resumed,
      );
      return run.resumed ? run : undefined;
    },
    async applyPage(runId, pageToken, users, nextToken) {
      const { rows } = await db.query<AppliedRow>(
        'SELECT cognito_user_id, outcome, error_code FROM sync.apply_reconcile_page($1::bigint, $2, $3::jsonb, $4)',
        [runId, pageToken, usersJson(users), nextToken],
      );
      return toApplied(rows);
    },
    async applyInRun(runId, users) {
      const { rows } = await db.query<AppliedRow>(
        'SELECT cognito_user_id, outcome, error_code FROM sync.apply_users($1::jsonb, $2::bigint)',
        [usersJson(users), runId],
      );
      return toApplied(rows);
    },
    async rewind(runId) {
      await db.query('SELECT sync.rewind_reconcile($1::bigint)', [runId]);
    },
    async pruneCandidates(runId, afterSub, max) {
      const { rows } = await db.query<{ sub: string }>(
        'SELECT sub FROM sync.prune_candidates($1::bigint, $2, $3) AS sub',
        [runId, afterSub, max],
      );
      return rows.map((row) => row.sub);
    },
    erase: (sub, policy) => eraseUser(db, sub, policy),
    async apply(users) {
      return toApplied((await db.query<AppliedRow>(APPLY_USERS, [usersJson(users)])).rows);
    },
    async recordPrune(runId, pruned) {
      await db.query('SELECT sync.record_prune($1::bigint, $2)', [runId, pruned]);
    },
    async preview(users) {
      // The page's own outcomes, computed by the same function and rolled back: the row locks last one page.
      return inTransaction(
        db,
        async () => toApplied((await db.query<AppliedRow>(APPLY_USERS, [usersJson(users)])).rows),
        () => false,
      );
    },
    async groupsPending() {
      const { rows } = await db.query<{ run_id: string; groups_after: string | null }>(
        'SELECT run_id::text AS run_id, groups_after FROM sync.groups_pending()',
      );
      const row = rows[0];
      return row === undefined ? undefined : { runId: String(row.run_id), after: row.groups_after };
    },
    async applyGroupMembers(group, subs, readAt) {
      const { rows } = await db.query<{ cognito_user_id: string; outcome: GroupMemberOutcome }>(
        'SELECT cognito_user_id, outcome FROM sync.apply_group_members($1, $2::text[], $3::timestamptz)',
        [group, [...subs], readAt],
      );
      return rows.map((row) => ({ sub: row.cognito_user_id, outcome: row.outcome }));
    },
    async endGroupMembers(group, scanStartedAt) {
      const { rows } = await db.query<{ removed: string }>(
        'SELECT sync.end_group_members($1, $2::timestamptz) AS removed',
        [group, scanStartedAt],
      );
      return Number(rows[0]?.removed ?? 0);
    },
    async pruneGroups(poolGroups, readAt) {
      const { rows } = await db.query<{ group_name: string; removed: string }>(
        'SELECT group_name, removed FROM sync.prune_groups($1::text[], $2::timestamptz)',
        [[...poolGroups], readAt],
      );
      return rows.map((row) => ({ group: row.group_name, removed: Number(row.removed) }));
    },
    async recordGroupScan(runId, group) {
      await db.query('SELECT sync.record_group_scan($1::bigint, $2)', [runId, group]);
    },
  };
}

/**
 * sync.bind_pool: 'bound' on the first run, 'same' after; another pool fails with SQLSTATE.poolMismatch (SY001),
 * whose message names both pool ids. Called before the first page of every run.
 */
export async function bindPool(db: Queryable, userPoolId: string): Promise<BindPoolOutcome> {
  const { rows } = await db.query<{ outcome: BindPoolOutcome }>('SELECT sync.bind_pool($1) AS outcome', [userPoolId]);
  const row = rows[0];
  if (row === undefined) throw new Error('sync.bind_pool returned no row');
  return row.outcome;
}

/** sync.prune_summary: the complete run's prune candidates and the table's live rows, for the prune brake. */
export async function pruneSummary(db: Queryable, runId: string): Promise<{ candidates: number; tableRows: number }> {
  const { rows } = await db.query<{ candidates: string; table_rows: string }>(
    'SELECT candidates, table_rows FROM sync.prune_summary($1::bigint)',
    [runId],
  );
  const row = rows[0];
  if (row === undefined) throw new Error('sync.prune_summary returned no row');
  return { candidates: Number(row.candidates), tableRows: Number(row.table_rows) };
}

/** sync.restore_user: removes the tombstone ('restored') or finds none ('not_erased'). Check the pool first. */
export async function restoreUser(db: Queryable, sub: string): Promise<RestoreOutcome> {
  const { rows } = await db.query<{ outcome: RestoreOutcome }>('SELECT sync.restore_user($1) AS outcome', [sub]);
  const row = rows[0];
  if (row === undefined) throw new Error('sync.restore_user returned no row');
  return row.outcome;
}

/**
 * The same store with a dry run's prune figures, for an operator's connection (the CLI): it reads the subs of
 * public.users, which the reconciler role may not. Holds every sub of the table in memory for the compare:
 * fine for a reachable database of a few million rows, not meant for the function. One store per dry run: it
 * takes the database's time at the first preview as the dry run's start.
 */
export function operatorReconcileStore(db: Queryable): ReconcileStore {
  const store = postgresReconcileStore(db);
  let startedAt: Promise<Date> | undefined;
  return {
    ...store,
    async preview(users) {
      startedAt ??= db.query<{ now: Date }>('SELECT now() AS now').then(({ rows }) => rows[0]?.now ?? new Date(0));
      await startedAt;
      return store.preview(users);
    },
    async unseen(seen) {
      const before = (await startedAt) ?? new Date(0);
      const { rows } = await db.query<{ sub: string }>(
        'SELECT cognito_user_id AS sub FROM public.users WHERE deleted_at IS NULL AND created_at < $1 ORDER BY cognito_user_id',
        [before],
      );
      return { subs: rows.map((row) => row.sub).filter((sub) => !seen.has(sub)), tableRows: rows.length };
    },
  };
}
