// The safety net, free of AWS and of SQL: read the whole pool page by page at a share of the ListUsers quota,
// write each page in one round trip with the token of the next (so a run of any size resumes where the last
// committed page ended), and once a run has seen the whole pool, find the rows it did not see and erase those
// the pool confirms are gone. Erasure is irreversible, so it is braked here, where the CLI (bin/users.ts) and
// the function (handler.ts) both pass: the database must be bound to this pool, a run that saw nobody never
// prunes, and a prune larger than its limit erases nothing. After the users (and the prune) of a complete run
// comes its groups phase: every group's members page by page, then the groups the pool no longer has; it is
// part of the run, so the next invocation resumes it after the last group whose scan finished.
import type { UserType } from '@aws-sdk/client-cognito-identity-provider';
import { poolUserFrom, type CognitoUserShape } from '../cognito/pool-user';
import { userStateOf } from '../users/user-state';
import { GroupNotFoundError, PaginationTokenRefusedError, type PoolReader } from '../cognito/user-pool';
import type { Clock } from '../runtime/clock';
import { isUserPoolId } from '../cognito/ids';
import { errorCode, SQLSTATE } from '../postgres/error-codes';
import { InvalidEventError } from '../runtime/errors';
import type { Logger } from '../runtime/logger';
import { SUB_PATTERN } from '../cognito/sub';
import type { BindPoolOutcome, GroupMemberOutcome, RestoreOutcome } from '../users/outcomes';
import type { ApplyOutcome, EraseOutcome, ErasurePolicy, UserState } from '../users/users-repository';

export type {
  ApplyOutcome,
  BindPoolOutcome,
  EraseOutcome,
  ErasurePolicy,
  GroupMemberOutcome,
  RestoreOutcome,
  UserState,
};

/** One sub of a group's members page, and what sync.apply_group_members did with it. */
export interface AppliedMember {
  readonly sub: string;
  readonly outcome: GroupMemberOutcome;
}

/** A group sync.prune_groups deleted (the pool's complete listing did not show it), and memberships gone. */
export interface PrunedGroup {
  readonly group: string;
  readonly removed: number;
}

/** A run whose groups phase is to do: the newest run, complete, its phase not finished. */
export interface GroupsResume {
  readonly runId: string;
  /** The last group whose scan finished; null: none yet. */
  readonly after: string | null;
}

export interface AppliedUser {
  readonly sub: string;
  readonly outcome: ApplyOutcome;
  /** The SQLSTATE of a refused user. */
  readonly errorCode: string | null;
}

export interface ReconcileRun {
  /** sync.reconcile_runs.id, a bigint, as text. */
  readonly runId: string;
  readonly startedAt: Date;
  /** The token of the page to read next; null before the first page. */
  readonly paginationToken: string | null;
  readonly pages: number;
  readonly scanned: number;
  readonly resumed: boolean;
}

/** What a prune of a complete run would erase, and the table it would erase from. */
export interface PruneSummary {
  /** Rows the complete run did not see (sync.prune_candidates' rule). */
  readonly candidates: number;
  /** Rows of the table that are not anonymized: the base of the default limit. */
  readonly tableRows: number;
}

/** The reconcile's port on the database (postgres-store.ts is the adapter over the sync.* functions). */
export interface ReconcileStore {
  /**
   * Binds the database to this pool on the first run ('bound'), or finds it bound to it ('same'); bound to
   * another pool, fails with SQLSTATE.poolMismatch (SY001). `dryRun`: the same answer, nothing kept.
   */
  bindPool(userPoolId: string, options?: { readonly dryRun?: boolean }): Promise<BindPoolOutcome>;
  /** The complete run's prune candidates and the table's live rows, before anything is erased. */
  pruneSummary(runId: string): Promise<PruneSummary>;
  /** Removes a sub's tombstone ('restored'), or finds none ('not_erased'). The caller checks the pool first. */
  restore(sub: string): Promise<RestoreOutcome>;
  /** The open run, or a new one. */
  begin(): Promise<ReconcileRun>;
  /** The open run; undefined (and nothing written) when there is none. */
  resume(): Promise<ReconcileRun | undefined>;
  /** One page in one round trip, with the token it was read with and the token of the next (null: last page). */
  applyPage(
    runId: string,
    pageToken: string | null,
    users: readonly UserState[],
    nextToken: string | null,
  ): Promise<AppliedUser[]>;
  /** Users of the open run without moving its token: the head of a page longer than 60 (see MAX_BATCH). */
  applyInRun(runId: string, users: readonly UserState[]): Promise<AppliedUser[]>;
  /** The pool refused the saved token: the run reads again from the first page. */
  rewind(runId: string): Promise<void>;
  /** Subs of rows the complete run did not see, after `afterSub`, in order. */
  pruneCandidates(runId: string, afterSub: string | null, max: number): Promise<string[]>;
  erase(sub: string, policy: ErasurePolicy): Promise<EraseOutcome>;
  /** Users outside any run (a prune candidate the pool still has). */
  apply(users: readonly UserState[]): Promise<AppliedUser[]>;
  recordPrune(runId: string, pruned: number): Promise<void>;
  /** What applyPage would do, with nothing written (a dry run). */
  preview(users: readonly UserState[]): Promise<AppliedUser[]>;
  /** The run whose groups phase is to do (sync.groups_pending); undefined when there is none. */
  groupsPending(): Promise<GroupsResume | undefined>;
  /** One page of a group's members (at most 60 subs), read at `readAt` (ISO 8601): adds, never removes. */
  applyGroupMembers(group: string, subs: readonly string[], readAt: string): Promise<AppliedMember[]>;
  /** After a group's last page: removes its memberships seen before the scan's first page was asked for. */
  endGroupMembers(group: string, scanStartedAt: string): Promise<number>;
  /** After a complete ListGroups read at `readAt`: deletes every group the table holds that it did not list. */
  pruneGroups(poolGroups: readonly string[], readAt: string): Promise<PrunedGroup[]>;
  /** The groups phase's progress: `group`'s scan finished; null: the phase is done. */
  recordGroupScan(runId: string, group: string | null): Promise<void>;
  /**
   * For a dry run's prune figures: subs of rows not anonymized, created before the dry run's first preview (by
   * the database's clock, as a run's start is), that are not in `seen`, and how many such rows there are in
   * all (seen or not). Needs read access to public.users, which the reconciler role does not have: absent in AWS.
   */
  readonly unseen?: (seen: ReadonlySet<string>) => Promise<{ subs: string[]; tableRows: number }>;
}

export type ReconcileMode = 'start' | 'continue';

export interface ReconcileOptions {
  /** 'start' resumes the open run or starts one; 'continue' only resumes an open run. */
  readonly mode: ReconcileMode;
  /** Erase the rows the pool no longer has; without it they are only counted and listed. */
  readonly prune: boolean;
  readonly dryRun: boolean;
  readonly erasurePolicy: ErasurePolicy;
  /** The pool read: the database must be bound to it (sync.bind_pool) before anything is read or written. */
  readonly userPoolId: string;
  /**
   * The most rows one prune may erase; more candidates than this and it erases none. An operator's say-so for
   * one run (`--max-prune N`, RECONCILE_MAX_PRUNE). @default defaultPruneLimit(the table's live rows)
   */
  readonly maxPrune?: number;
  /** Epoch ms after which no new page or check is started. @default no limit */
  readonly deadline?: number;
}

export interface ReconcileDeps {
  readonly pool: PoolReader;
  readonly store: ReconcileStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called after each page: progress for the command line. */
  readonly onPage?: (report: Readonly<ReconcileReport>) => void;
}

export interface PruneReport {
  /** Rows the run did not see (in a dry run: that the pool listing did not show). */
  candidates: number;
  /** Erased because the pool says they do not exist (dry run: would be). */
  erased: number;
  /** Candidates the pool still has: refreshed instead of erased (dry run: would be). */
  keptInPool: number;
  /** Candidates that were already erased by someone else meanwhile. */
  alreadyErased: number;
  /** Every candidate was looked at. */
  complete: boolean;
  /** Subs of candidates, listed when prune is off (at most MAX_LISTED_SUBS). */
  subs: string[];
  /** The brake held: nothing was erased (or, in a dry run, would be). */
  refused?: PruneRefusal;
}

export interface PruneRefusal {
  /** Rows the prune would have erased at most (the run's candidates). */
  readonly candidates: number;
  /** The limit in force for this run. */
  readonly limit: number;
  /** 'empty_scan': the run saw no user at all; 'over_limit': more candidates than the limit. */
  readonly reason: 'empty_scan' | 'over_limit';
}

export type ReconcileStatus =
  /** The run has seen the whole pool (and, with prune, pruned what it could). */
  | 'complete'
  /** Stopped at the time budget; the next invocation resumes from the saved token. */
  | 'incomplete'
  /** 'continue' found no open run: nothing to do. */
  | 'no_open_run'
  /** Another invocation moved the run on (or completed it) while this one read a page: this one stopped. */
  | 'superseded';

export interface ReconcileReport {
  status: ReconcileStatus;
  dryRun: boolean;
  runId: string | null;
  resumed: boolean;
  /** Times the pool refused the saved token and the run started again from the first page. */
  rewound: number;
  /** This invocation's pages and users (a dry run: what it would write). */
  pages: number;
  scanned: number;
  inserted: number;
  updated: number;
  /** Updated, but the requested handle is another user's: the old one stays. Included in `updated`. */
  handleConflicts: number;
  unchanged: number;
  /** The table holds a newer state than the page (an event was faster): nothing written. */
  stale: number;
  /** In the pool but not written (see `skipped`): marked as seen only. */
  seen: number;
  /** Tombstoned: never written back. */
  erasedTombstoned: number;
  /**
   * Tombstoned subs this run found alive in the pool (each logged at WARN by sub): a wrong erasure to restore
   * (`npm run users -- restore <sub>`), or a user deleted and re-created with the same sub (which Cognito does
   * not do). The metric TombstonedInPool.
   */
  tombstonedInPool: number;
  /**
   * What this invocation repaired that the event path should have kept right: inserted + updated + erased by
   * the prune (a dry run: would). The metric Drift: a steady non-zero drift is a broken event path.
   */
  drift: number;
  /** Users whose preferred_username is outside the handle rule: written with no handle asked for. */
  handlesRefused: number;
  /** Users the database refused, by SQLSTATE: nothing of them written, the run went on. */
  refused: Record<string, number>;
  /** Users not written, by reason (a status, or the field that did not validate). */
  skipped: Record<string, number>;
  /** The run's totals, this invocation included (a resumed run counts its earlier invocations). */
  runPages: number;
  runScanned: number;
  /** null before the run is complete; `available: false` in a dry run that cannot read the table. */
  prune: (PruneReport & { readonly available: true }) | { readonly available: false } | null;
  /** The groups phase of this invocation; null when it did not reach it. */
  groups: GroupsReport | null;
}

/** What the groups phase did in this invocation (a dry run: what the pool lists, nothing compared). */
export interface GroupsReport {
  /** Groups the pool's listing showed. */
  listed: number;
  /** Groups whose members were all read in this invocation (a resumed phase skips those done before). */
  scanned: number;
  /** Members the pages listed. */
  members: number;
  /** Memberships written that the table did not have. */
  added: number;
  /** Memberships the table had that no page of their group listed (sync.end_group_members). */
  removed: number;
  /** Groups the table held that the pool no longer has (sync.prune_groups), and their memberships removed. */
  groupsDeleted: number;
  deletedMemberships: number;
  /** Members whose group list an event read later: nothing written for them. */
  stale: number;
  /** Members with no row (not confirmed, or not written yet): nothing written. */
  notSynced: number;
  /** Members who are erased: nothing written. */
  erased: number;
  /** Members listed without a usable sub: nothing written. */
  skipped: number;
  /** Every group scanned and the deleted ones removed: the phase is done. */
  complete: boolean;
  /** False in a dry run: the pool was read, the table not compared. */
  compared: boolean;
}

/**
 * Users sync.apply_users takes in one call: ListUsers' page. cognito-local ignores Limit and answers with the
 * whole pool in one page, so a longer page is written in slices of this size.
 */
export const MAX_BATCH = 60;

function slices<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += MAX_BATCH) out.push(items.slice(start, start + MAX_BATCH));
  return out.length === 0 ? [[]] : out;
}

/** Candidates taken from the database at a time: small enough to re-check before the next chunk is read. */
export const PRUNE_CHUNK = 100;
/** Subs listed in a report when prune is off: enough to act on, bounded for a log line and a Lambda response. */
export const MAX_LISTED_SUBS = 100;
/** Saved tokens the pool may refuse in one invocation before the run gives up (something else is wrong). */
const MAX_REWINDS = 3;
/** SQLSTATE 55000: a page of a run another invocation moved past, or a run already complete. */
const NOT_IN_PREREQUISITE_STATE = '55000';

/** The run cannot go on for a reason a retry will not fix. */
export class ReconcileError extends Error {
  override readonly name: string = 'ReconcileError';
}

/** The database is kept in step with another pool: nothing was read or written. Names both ids (not personal). */
export class PoolMismatchError extends ReconcileError {
  override readonly name = 'PoolMismatchError';
  constructor(
    readonly boundPoolId: string | undefined,
    readonly userPoolId: string,
  ) {
    super(
      `the database is kept in step with user pool ${boundPoolId ?? '(another pool)'}, not ${userPoolId}: ` +
        `nothing read or written; if ${userPoolId} replaces it, adopt it first (npm run db -- adopt-pool ${userPoolId})`,
    );
  }
}

/** The bound pool named in sync.bind_pool's SY001 message, when it has a pool id's shape. */
function boundPoolOf(error: unknown): string | undefined {
  const message = error instanceof Error ? error.message : '';
  const bound = /^database is kept in step with (\S+); refusing /.exec(message)?.[1];
  return bound !== undefined && isUserPoolId(bound) ? bound : undefined;
}

/** Binds the database to the pool, or stops the run with a PoolMismatchError. */
async function bindPool(options: ReconcileOptions, deps: ReconcileDeps): Promise<void> {
  try {
    const outcome = await deps.store.bindPool(options.userPoolId, { dryRun: options.dryRun });
    if (outcome === 'bound')
      deps.logger.info('database bound to this user pool', { userPoolId: options.userPoolId, outcome });
  } catch (error) {
    if (errorCode(error) !== SQLSTATE.poolMismatch) throw error;
    const mismatch = new PoolMismatchError(boundPoolOf(error), options.userPoolId);
    deps.logger.error('reconcile refused: the database is bound to another user pool', {
      userPoolId: options.userPoolId,
      boundPoolId: mismatch.boundPoolId ?? null,
      outcome: 'pool_mismatch',
    });
    throw mismatch;
  }
}

/** Rows a prune may erase without an operator's say-so: the larger of 10 and 1% of the table's live rows. */
export function defaultPruneLimit(tableRows: number): number {
  return Math.max(10, Math.ceil(tableRows / 100));
}

/** The limit for this run: the operator's, or the default for a table of `tableRows`. */
function pruneLimit(options: ReconcileOptions, tableRows: number): number {
  const given = options.maxPrune;
  if (given === undefined) return defaultPruneLimit(tableRows);
  if (!Number.isSafeInteger(given) || given < 0)
    throw new ReconcileError('maxPrune must be a whole number of rows, 0 or more');
  return given;
}

function newReport(dryRun: boolean): ReconcileReport {
  return {
    status: 'incomplete',
    dryRun,
    runId: null,
    resumed: false,
    rewound: 0,
    pages: 0,
    scanned: 0,
    inserted: 0,
    updated: 0,
    handleConflicts: 0,
    unchanged: 0,
    stale: 0,
    seen: 0,
    erasedTombstoned: 0,
    tombstonedInPool: 0,
    drift: 0,
    handlesRefused: 0,
    refused: {},
    skipped: {},
    runPages: 0,
    runScanned: 0,
    prune: null,
    groups: null,
  };
}

function newGroups(compared: boolean): GroupsReport {
  return {
    listed: 0,
    scanned: 0,
    members: 0,
    added: 0,
    removed: 0,
    groupsDeleted: 0,
    deletedMemberships: 0,
    stale: 0,
    notSynced: 0,
    erased: 0,
    skipped: 0,
    complete: false,
    compared,
  };
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/**
 * A sub to mark as seen when the rest of the user does not validate: the attribute, or (as poolUserFrom reads
 * it, and only when there is no sub attribute) a sub-shaped user name.
 */
function fallbackSub(user: CognitoUserShape): string | undefined {
  const attribute = (user.Attributes ?? user.UserAttributes ?? []).find((a) => a.Name === 'sub');
  const value = attribute === undefined ? user.Username : attribute.Value;
  return typeof value === 'string' && SUB_PATTERN.test(value) ? value : undefined;
}

/** A Cognito user as the state to write, or as seen only with the reason it is not written. */
export function stateOf(
  user: CognitoUserShape,
  readAt: string,
): { state?: UserState; skip?: string; handleRefused?: boolean } {
  try {
    const mapped = poolUserFrom(user, 'user');
    const state = userStateOf(mapped, readAt);
    const handleRefused = mapped.handleRefused === true;
    return state.seenOnly ? { state, skip: `not confirmed (${mapped.status})` } : { state, handleRefused };
  } catch (error) {
    if (!(error instanceof InvalidEventError)) throw error;
    const skip = `invalid ${error.field.replace(/^user\./, '')}`;
    const sub = fallbackSub(user);
    // Still in the pool: marked as seen, so that a user the mapping refuses is never pruned for it.
    if (sub === undefined) return { skip };
    const state: UserState = {
      sub,
      email: null,
      name: null,
      handle: null,
      handleCandidates: [],
      enabled: true,
      modifiedAt: null,
      readAt,
      seenOnly: true,
    };
    return { state, skip };
  }
}

function count(report: ReconcileReport, applied: readonly AppliedUser[], log: Logger): void {
  for (const user of applied) {
    switch (user.outcome) {
      case 'inserted':
        report.inserted += 1;
        break;
      case 'updated':
        report.updated += 1;
        break;
      case 'updated_handle_conflict':
        report.updated += 1;
        report.handleConflicts += 1;
        log.info('handle kept: the pool asks for a handle another user holds', {
          sub: user.sub,
          outcome: user.outcome,
        });
        break;
      case 'unchanged':
        report.unchanged += 1;
        break;
      case 'stale':
        report.stale += 1;
        break;
      case 'seen':
        report.seen += 1;
        break;
      case 'erased':
        report.erasedTombstoned += 1;
        report.tombstonedInPool += 1;
        // The pool lists the user, so they are alive: either a wrong erasure, or a sub used again.
        log.warn('tombstoned user is in the pool: not written back; restore the sub if its erasure was wrong', {
          sub: user.sub,
          outcome: 'tombstoned_in_pool',
        });
        break;
      case 'refused':
        bump(report.refused, user.errorCode ?? 'unknown');
        log.error('user refused by the database; skipped', {
          sub: user.sub,
          errorCode: user.errorCode,
          outcome: 'refused',
        });
        break;
    }
  }
}

interface Page {
  readonly states: UserState[];
  readonly nextToken: string | undefined;
}

function mapPage(users: readonly UserType[], readAt: number, report: ReconcileReport, log: Logger): Page['states'] {
  const at = new Date(readAt).toISOString();
  const states: UserState[] = [];
  const seen = new Set<string>();
  for (const user of users) {
    report.scanned += 1;
    const { state, skip, handleRefused } = stateOf(user, at);
    if (handleRefused && state !== undefined) {
      report.handlesRefused += 1;
      log.info('handle outside the handle rule: written without one', { sub: state.sub, outcome: 'handle_refused' });
    }
    if (skip !== undefined) {
      bump(report.skipped, skip);
      if (!skip.startsWith('not confirmed'))
        log.warn('user skipped: attributes do not validate', { sub: state?.sub ?? null, reason: skip });
    }
    // A page never names a sub twice in Cognito's listing; if one did, the first state is the one kept.
    if (state !== undefined && !seen.has(state.sub)) {
      seen.add(state.sub);
      states.push(state);
    }
  }
  return states;
}

const isOutOfTime = (deps: ReconcileDeps, options: ReconcileOptions) =>
  deps.clock.now() >= (options.deadline ?? Number.POSITIVE_INFINITY);

/** Runs (or continues) a reconcile; resolves to what this invocation did. */
export async function reconcile(options: ReconcileOptions, deps: ReconcileDeps): Promise<ReconcileReport> {
  const report = await (options.dryRun ? dryRun(options, deps) : realRun(options, deps));
  const erased = report.prune?.available === true ? report.prune.erased : 0;
  // Memberships the reconcile had to repair are drift too: the event path should have kept them right.
  const groups = report.groups?.compared === true ? report.groups : undefined;
  const groupDrift = groups === undefined ? 0 : groups.added + groups.removed + groups.deletedMemberships;
  report.drift = report.inserted + report.updated + erased + groupDrift;
  return report;
}

async function realRun(options: ReconcileOptions, deps: ReconcileDeps): Promise<ReconcileReport> {
  const report = newReport(false);
  // 'start' binds before it opens a run; 'continue' first asks whether there is one (an idle schedule then
  // costs two statements: a groups phase to resume, an open run), and binds before its first page.
  if (options.mode === 'start') await bindPool(options, deps);
  // A complete run whose groups phase an earlier invocation left unfinished is resumed first, in either mode:
  // it is the newest run, so 'start' would otherwise begin another and leave it behind.
  const pending = await deps.store.groupsPending();
  if (pending !== undefined) {
    if (options.mode === 'continue') await bindPool(options, deps);
    const log = deps.logger.child({ runId: pending.runId });
    report.runId = pending.runId;
    report.resumed = true;
    log.info('reconcile run resumed in its groups phase', { resumedAfterGroup: pending.after !== null });
    const done = await groupsPhase(pending.runId, pending.after, options, deps, report, log);
    report.status = done ? 'complete' : 'incomplete';
    return report;
  }
  const run = options.mode === 'continue' ? await deps.store.resume() : await deps.store.begin();
  if (run === undefined) {
    report.status = 'no_open_run';
    deps.logger.info('no open reconcile run to continue', { outcome: report.status });
    return report;
  }
  if (options.mode === 'continue') await bindPool(options, deps);
  const log = deps.logger.child({ runId: run.runId });
  report.runId = run.runId;
  report.resumed = run.resumed;
  report.runPages = run.pages;
  report.runScanned = run.scanned;
  log.info(run.resumed ? 'reconcile run resumed' : 'reconcile run started', {
    pagesBefore: run.pages,
    resumedFromToken: run.paginationToken !== null,
  });

  let pageToken = run.paginationToken;
  let complete = false;
  while (!complete) {
    if (isOutOfTime(deps, options)) break;
    let page;
    try {
      page = await deps.pool.listPage(pageToken ?? undefined);
    } catch (error) {
      if (!(error instanceof PaginationTokenRefusedError)) throw error;
      if (report.rewound >= MAX_REWINDS)
        throw new ReconcileError(`the pool refused ${report.rewound + 1} pagination tokens in a row; giving up`);
      // What the run has seen stays valid (a mark only says "in the pool after the run started"); it reads the
      // pool again from the first page, so nothing is pruned on a partial view.
      await deps.store.rewind(run.runId);
      report.rewound += 1;
      pageToken = null;
      log.warn('the pool refused the saved pagination token; the run reads again from the first page', {
        outcome: 'rewound',
      });
      continue;
    }
    const states = mapPage(page.users, page.readAt, report, log);
    const parts = slices(states);
    const last = parts.pop() ?? [];
    let applied: AppliedUser[] = [];
    try {
      // Only a page longer than 60 has a head: written in the run, and read again if the page is interrupted.
      for (const part of parts) applied.push(...(await deps.store.applyInRun(run.runId, part)));
      applied = [...applied, ...(await deps.store.applyPage(run.runId, pageToken, last, page.nextToken ?? null))];
    } catch (error) {
      if (errorCode(error) !== NOT_IN_PREREQUISITE_STATE) throw error;
      // Nothing of this page was written; the other invocation carries the run on.
      report.scanned -= page.users.length;
      report.status = 'superseded';
      log.warn('another invocation moved this run on; stopping', { outcome: report.status });
      return report;
    }
    count(report, applied, log);
    report.pages += 1;
    report.runPages += 1;
    report.runScanned += page.users.length;
    complete = page.nextToken === undefined;
    pageToken = page.nextToken ?? null;
    deps.onPage?.(report);
  }
  if (!complete) {
    log.info('reconcile stopped at the time budget; the next invocation resumes it', {
      outcome: 'incomplete',
      pages: report.pages,
      scanned: report.scanned,
    });
    return report;
  }
  report.status = 'complete';
  try {
    report.prune = { available: true, ...(await prune(run.runId, report.runScanned, options, deps, log)) };
  } catch (error) {
    if (errorCode(error) !== NOT_IN_PREREQUISITE_STATE) throw error;
    // A newer run started meanwhile: its marks replace this run's, so this run may no longer prune.
    report.status = 'superseded';
    log.warn('a newer run started before this one could prune; the newer run prunes', { outcome: report.status });
    return report;
  }
  log.info('reconcile users complete', {
    outcome: report.status,
    pages: report.runPages,
    scanned: report.runScanned,
    pruneCandidates: report.prune.candidates,
    pruned: report.prune.erased,
    tombstonedInPool: report.tombstonedInPool,
  });
  // A prune cut short by the time budget leaves the rest to the next complete run; the groups phase is then
  // this run's to resume.
  if (!(await groupsPhase(run.runId, null, options, deps, report, log))) report.status = 'incomplete';
  return report;
}

/** Every group the pool lists, all pages; undefined when the time budget ran out before the last page. */
async function listAllGroups(
  options: ReconcileOptions,
  deps: ReconcileDeps,
): Promise<{ names: string[]; readAt: number } | undefined> {
  const names = new Set<string>();
  let token: string | undefined;
  let readAt: number | undefined;
  do {
    if (isOutOfTime(deps, options)) return undefined;
    const page = await deps.pool.listGroups(token);
    // The first page's time: the whole listing is "as of" no later than it (sync.prune_groups' p_read_at).
    readAt ??= page.readAt;
    for (const name of page.groups) names.add(name);
    token = page.nextToken;
  } while (token !== undefined);
  // One fixed order (UTF-16 code units, as JavaScript compares), so that "after the last group done" means the
  // same thing in every invocation whatever order the pool lists them in.
  return { names: [...names].sort(), readAt };
}

function countMembers(groups: GroupsReport, applied: readonly AppliedMember[]): void {
  for (const member of applied) {
    switch (member.outcome) {
      case 'added':
        groups.added += 1;
        break;
      case 'unchanged':
        break;
      case 'stale':
        groups.stale += 1;
        break;
      case 'no_user':
        groups.notSynced += 1;
        break;
      case 'erased':
        groups.erased += 1;
        break;
    }
  }
}

/**
 * Reads one group's members page by page and writes each page (sync.apply_group_members), then removes the
 * memberships no page listed (sync.end_group_members, from the time the first page was asked for). Resolves to
 * 'out_of_time' when the time budget ran out first: the group is read again from its first page next time,
 * which is safe (a page only adds, and the end only removes what the whole scan did not see); 'gone' when the
 * pool deleted the group since the listing.
 */
async function scanGroup(
  group: string,
  options: ReconcileOptions,
  deps: ReconcileDeps,
  groups: GroupsReport,
  log: Logger,
): Promise<'scanned' | 'gone' | 'out_of_time'> {
  let token: string | undefined;
  let scanStartedAt: number | undefined;
  do {
    if (isOutOfTime(deps, options)) return 'out_of_time';
    let page;
    try {
      page = await deps.pool.listUsersInGroup(group, token);
    } catch (error) {
      if (!(error instanceof GroupNotFoundError)) throw error;
      // Deleted since the listing: sync.prune_groups removes it with the groups the listing did not show.
      log.info('group deleted while the reconcile read it', { group, outcome: 'group_gone' });
      return 'gone';
    }
    scanStartedAt ??= page.readAt;
    const subs = new Set<string>();
    for (const user of page.users) {
      groups.members += 1;
      const sub = fallbackSub(user);
      if (sub === undefined) {
        groups.skipped += 1;
        log.warn('group member without a usable sub; skipped', { group, outcome: 'skipped' });
      } else subs.add(sub);
    }
    if (!options.dryRun) {
      const at = new Date(page.readAt).toISOString();
      // cognito-local answers with every member in one page: written in slices the function takes.
      for (const part of slices([...subs])) {
        if (part.length > 0) countMembers(groups, await deps.store.applyGroupMembers(group, part, at));
      }
    }
    token = page.nextToken;
  } while (token !== undefined);
  if (!options.dryRun && scanStartedAt !== undefined)
    groups.removed += await deps.store.endGroupMembers(group, new Date(scanStartedAt).toISOString());
  groups.scanned += 1;
  return 'scanned';
}

/**
 * The groups phase of a complete run: the pool's groups (all pages), each group's members after `after` (the
 * last group an earlier invocation finished), then the groups the table holds that the listing did not show.
 * Progress is recorded group by group. Resolves to true when the phase is done. A dry run reads the pool and
 * counts, writing and comparing nothing.
 */
async function groupsPhase(
  runId: string | null,
  after: string | null,
  options: ReconcileOptions,
  deps: ReconcileDeps,
  report: ReconcileReport,
  log: Logger,
): Promise<boolean> {
  const groups = newGroups(!options.dryRun);
  report.groups = groups;
  const listing = await listAllGroups(options, deps);
  if (listing === undefined) return false;
  groups.listed = listing.names.length;
  // Groups the pool deleted while the phase read it: left out of the listing that sync.prune_groups trusts.
  const present: string[] = [];
  for (const group of listing.names) {
    if (after !== null && group <= after) {
      present.push(group);
      continue;
    }
    const scan = await scanGroup(group, options, deps, groups, log);
    if (scan === 'out_of_time') return false;
    if (scan === 'gone') continue;
    present.push(group);
    if (!options.dryRun && runId !== null) await deps.store.recordGroupScan(runId, group);
  }
  if (!options.dryRun && runId !== null) {
    for (const pruned of await deps.store.pruneGroups(present, new Date(listing.readAt).toISOString())) {
      groups.groupsDeleted += 1;
      groups.deletedMemberships += pruned.removed;
      log.info('group deleted: the pool no longer has it', {
        group: pruned.group,
        removed: pruned.removed,
        outcome: 'group_deleted',
      });
    }
    await deps.store.recordGroupScan(runId, null);
  }
  groups.complete = true;
  log.info('reconcile groups complete', {
    outcome: 'complete',
    groups: groups.listed,
    added: groups.added,
    removed: groups.removed,
    groupsDeleted: groups.groupsDeleted,
  });
  return true;
}

/**
 * The brake, before anything is erased: a run that saw no user never prunes (an empty or replaced pool, the
 * wrong pool), and a prune of more rows than the limit erases none (a listing that went wrong). Logged at
 * ERROR: the function's metric PruneRefused alarms on it, the CLI exits non-zero.
 */
function brake(
  scanned: number,
  summary: PruneSummary,
  options: ReconcileOptions,
  log: Logger,
): PruneRefusal | undefined {
  const limit = pruneLimit(options, summary.tableRows);
  const reason = scanned === 0 ? 'empty_scan' : summary.candidates > limit ? 'over_limit' : undefined;
  if (reason === undefined || summary.candidates === 0) return undefined;
  const refusal: PruneRefusal = { candidates: summary.candidates, limit, reason };
  log.error(
    reason === 'empty_scan'
      ? 'prune refused: the run saw no user in the pool, so it erases nobody'
      : 'prune refused: more rows than the limit would be erased; nothing erased (raise the limit for one run if they are really gone)',
    { outcome: 'prune_refused', ...refusal },
  );
  return refusal;
}

function newPrune(): PruneReport {
  return { candidates: 0, erased: 0, keptInPool: 0, alreadyErased: 0, complete: false, subs: [] };
}

/**
 * Re-checks one candidate against the pool: only a user the pool says does not exist is erased; one it has
 * is written as it is now (it exists, so it must not be erased, whatever made the run miss it).
 */
async function checkCandidate(
  sub: string,
  options: ReconcileOptions,
  deps: ReconcileDeps,
  report: PruneReport,
  log: Logger,
): Promise<void> {
  const check = await deps.pool.checkUser(sub);
  if (check.user === 'absent') {
    if (options.dryRun) {
      report.erased += 1;
      return;
    }
    const outcome = await deps.store.erase(sub, options.erasurePolicy);
    if (outcome === 'erased') report.erased += 1;
    else report.alreadyErased += 1;
    log.info('user erased: no longer in the pool', { sub, outcome, policy: options.erasurePolicy });
    return;
  }
  report.keptInPool += 1;
  const { state } = stateOf(check.user, new Date(check.readAt).toISOString());
  log.info('prune candidate is still in the pool; kept', { sub, outcome: 'kept' });
  if (state !== undefined && state.sub === sub && !options.dryRun) await deps.store.apply([state]);
}

async function prune(
  runId: string,
  scanned: number,
  options: ReconcileOptions,
  deps: ReconcileDeps,
  log: Logger,
): Promise<PruneReport> {
  const report = newPrune();
  if (options.prune) {
    const summary = await deps.store.pruneSummary(runId);
    const refused = brake(scanned, summary, options, log);
    if (refused !== undefined) {
      // Nothing erased, nothing recorded as pruned: the next run meets the same brake until someone decides.
      return { ...report, candidates: summary.candidates, refused };
    }
  }
  let after: string | null = null;
  try {
    for (;;) {
      if (isOutOfTime(deps, options)) return report;
      const subs = await deps.store.pruneCandidates(runId, after, PRUNE_CHUNK);
      if (subs.length === 0) break;
      for (const sub of subs) {
        if (options.prune && isOutOfTime(deps, options)) return report;
        report.candidates += 1;
        if (options.prune) await checkCandidate(sub, options, deps, report, log);
        else if (report.subs.length < MAX_LISTED_SUBS) report.subs.push(sub);
      }
      after = subs.at(-1) ?? null;
    }
    report.complete = true;
    if (!options.prune && report.candidates > 0) {
      log.warn('rows whose user is no longer in the pool (not erased: prune is off)', {
        outcome: 'prune_candidates',
        candidates: report.candidates,
      });
    }
    return report;
  } finally {
    // Whatever stopped it, the run's record says how many this prune erased.
    if (options.prune) await deps.store.recordPrune(runId, report.erased);
  }
}

async function dryRun(options: ReconcileOptions, deps: ReconcileDeps): Promise<ReconcileReport> {
  const report = newReport(true);
  const log = deps.logger.child({ dryRun: true });
  await bindPool(options, { ...deps, logger: log });
  const seen = deps.store.unseen === undefined ? undefined : new Set<string>();
  let token: string | undefined;
  let complete = false;
  while (!complete) {
    if (isOutOfTime(deps, options)) break;
    const page = await deps.pool.listPage(token);
    const states = mapPage(page.users, page.readAt, report, log);
    for (const state of states) seen?.add(state.sub);
    for (const part of slices(states)) count(report, await deps.store.preview(part), log);
    report.pages += 1;
    report.runPages += 1;
    report.runScanned += page.users.length;
    complete = page.nextToken === undefined;
    token = page.nextToken;
    deps.onPage?.(report);
  }
  if (!complete) {
    log.info('dry run stopped at the time budget (a dry run does not resume)', {
      outcome: 'incomplete',
      scanned: report.scanned,
    });
    return report;
  }
  report.status = 'complete';
  report.prune = await dryRunPrune(report.scanned, seen, options, deps, log);
  // The groups as the pool lists them; a dry run compares nothing with the table (counted, not written).
  if (!(await groupsPhase(null, null, options, deps, report, log))) report.status = 'incomplete';
  return report;
}

/** A dry run's prune figures, where the store can read the table (an operator's connection). */
async function dryRunPrune(
  scanned: number,
  seen: ReadonlySet<string> | undefined,
  options: ReconcileOptions,
  deps: ReconcileDeps,
  log: Logger,
): Promise<ReconcileReport['prune']> {
  if (deps.store.unseen === undefined || seen === undefined) return { available: false };
  const prune = newPrune();
  prune.complete = true;
  const unseen = await deps.store.unseen(seen);
  if (options.prune) {
    const summary = { candidates: unseen.subs.length, tableRows: unseen.tableRows };
    const refused = brake(scanned, summary, options, log);
    if (refused !== undefined)
      return { available: true, ...prune, candidates: summary.candidates, complete: false, refused };
  }
  for (const sub of unseen.subs) {
    if (options.prune && isOutOfTime(deps, options)) {
      prune.complete = false;
      break;
    }
    prune.candidates += 1;
    if (options.prune) await checkCandidate(sub, options, deps, prune, log);
    else if (prune.subs.length < MAX_LISTED_SUBS) prune.subs.push(sub);
  }
  return { available: true, ...prune };
}
