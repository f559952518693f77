// The reconcile store's calls as messages: what the runner outside the VPC (lambda-store.ts) sends and the
// store function inside it (lambdas/reconcile-store) answers. One store call is one message and one answer, so
// a page stays one SQL round trip. Both ends check what they receive: a request crosses a trust boundary into
// the database side, and an answer is read back into the core's types (a run's start as a Date again).
import { isSub } from '../cognito/sub';
import { isGroupName, isUserPoolId } from '../cognito/ids';
import { isRecord } from '../runtime/records';
import { ReportableError } from '../runtime/errors';
import { ERASURE_POLICIES } from '../users/erasure-policy';
import {
  APPLY_OUTCOMES,
  BIND_POOL_OUTCOMES,
  ERASE_OUTCOMES,
  GROUP_MEMBER_OUTCOMES,
  RESTORE_OUTCOMES,
} from '../users/outcomes';
import type { UserState } from '../users/users-repository';
import { MAX_BATCH, type AppliedMember, type AppliedUser, type ReconcileRun, type ReconcileStore } from './core';

/**
 * Every method of the store that goes over the wire. `unseen` stays behind: it needs read access to the whole
 * table, which only an operator's connection has (bin/users.ts), never the function.
 */
export const STORE_METHODS = [
  'bindPool',
  'pruneSummary',
  'restore',
  'begin',
  'resume',
  'applyPage',
  'applyInRun',
  'rewind',
  'pruneCandidates',
  'erase',
  'apply',
  'recordPrune',
  'preview',
  'groupsPending',
  'applyGroupMembers',
  'endGroupMembers',
  'pruneGroups',
  'recordGroupScan',
] as const satisfies readonly RemoteMethod[];

/** The store's methods, less the operator's own. */
export type RemoteMethod = Exclude<keyof ReconcileStore, 'unseen'>;
export type StoreMethod = (typeof STORE_METHODS)[number];

// A method added to ReconcileStore and not to STORE_METHODS fails the typecheck here, naming it.
type Uncovered = Exclude<RemoteMethod, StoreMethod>;
const everyMethodCovered: [Uncovered] extends [never] ? true : Uncovered = true;
void everyMethodCovered;

type Method<M extends StoreMethod> = Extract<ReconcileStore[M], (...args: never[]) => unknown>;
export type StoreArgs<M extends StoreMethod> = Parameters<Method<M>>;
export type StoreResult<M extends StoreMethod> = Awaited<ReturnType<Method<M>>>;

export interface StoreRequest<M extends StoreMethod = StoreMethod> {
  readonly method: M;
  readonly args: StoreArgs<M>;
}

/** What went wrong on the database side: the error's name and SQLSTATE, and a message that quotes no value. */
export interface StoreFailure {
  readonly name: string;
  readonly code?: string;
  readonly message: string;
}

export type StoreResponse =
  { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: StoreFailure };

/** A request the store function refuses before it reaches the database; `field` names what is wrong. */
export class InvalidStoreRequestError extends ReportableError {
  override readonly name = 'InvalidStoreRequestError';
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`Invalid store request: ${field} ${reason}`);
  }
}

/**
 * A store call failed on the database side. Carries the SQLSTATE as `code`, where errorCode() finds it, so the
 * core treats it as it treats the same failure from a local connection (55000: superseded; SY001: another pool).
 */
export class RemoteStoreError extends ReportableError {
  override readonly name = 'RemoteStoreError';
  constructor(
    readonly method: string,
    readonly causeName: string,
    override readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** An answer that is not a StoreResponse, or does not fit the method's result. */
export class InvalidStoreResponseError extends ReportableError {
  override readonly name = 'InvalidStoreResponseError';
  constructor(method: string, reason: string) {
    super(`The store function's answer to ${method} ${reason}`);
  }
}

// ---- checks of a request's arguments (the store function's side) ----

/** sync.reconcile_runs.id, a bigint as text. */
const RUN_ID = /^[1-9]\d{0,18}$/;
/** Cognito documents no bound for a pagination token; this one only keeps a request small. */
const MAX_TOKEN_LENGTH = 8192;
/** Largest chunk of prune candidates a call may ask for. */
export const MAX_PRUNE_CHUNK = 1000;
const MAX_TEXT = 2048;
const MAX_CANDIDATES = 64;
/** Cognito's quota of groups in one user pool (10,000): the most names a complete ListGroups can give. */
export const MAX_POOL_GROUPS = 10_000;

function runId(value: unknown, field: string): string {
  if (typeof value !== 'string' || !RUN_ID.test(value)) throw new InvalidStoreRequestError(field, 'must be a run id');
  return value;
}

function token(value: unknown, field: string): string | null {
  if (value === null) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TOKEN_LENGTH)
    throw new InvalidStoreRequestError(field, 'must be a pagination token or null');
  return value;
}

function sub(value: unknown, field: string): string {
  if (!isSub(value)) throw new InvalidStoreRequestError(field, 'is not a Cognito user id');
  return value;
}

function count(value: unknown, field: string, max: number, min = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
    throw new InvalidStoreRequestError(field, `must be a whole number from ${min} to ${max}`);
  return value;
}

function textOrNull(value: unknown, field: string): string | null {
  if (value === null) return null;
  if (typeof value !== 'string' || value.length > MAX_TEXT)
    throw new InvalidStoreRequestError(field, 'must be a string or null');
  return value;
}

function isoTime(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length > 40 || !Number.isFinite(Date.parse(value)))
    throw new InvalidStoreRequestError(field, 'must be an ISO 8601 time');
  return value;
}

const USER_STATE_FIELDS = [
  'sub',
  'email',
  'name',
  'handle',
  'handleCandidates',
  'enabled',
  'modifiedAt',
  'readAt',
  'seenOnly',
] as const satisfies readonly (keyof UserState)[];

/** One user's state as the core built it; the SQL functions check the values again (handle rule, lengths). */
function userState(value: unknown, field: string): UserState {
  if (!isRecord(value)) throw new InvalidStoreRequestError(field, 'must be a user state object');
  const extra = Object.keys(value).find((key) => !(USER_STATE_FIELDS as readonly string[]).includes(key));
  if (extra !== undefined) throw new InvalidStoreRequestError(`${field}.${extra.slice(0, 40)}`, 'is not a field');
  const candidates = value.handleCandidates;
  if (!Array.isArray(candidates) || candidates.length > MAX_CANDIDATES)
    throw new InvalidStoreRequestError(`${field}.handleCandidates`, 'must be a list of handles');
  if (typeof value.enabled !== 'boolean') throw new InvalidStoreRequestError(`${field}.enabled`, 'must be a boolean');
  if (typeof value.seenOnly !== 'boolean') throw new InvalidStoreRequestError(`${field}.seenOnly`, 'must be a boolean');
  return {
    sub: sub(value.sub, `${field}.sub`),
    email: textOrNull(value.email, `${field}.email`),
    name: textOrNull(value.name, `${field}.name`),
    handle: textOrNull(value.handle, `${field}.handle`),
    handleCandidates: candidates.map((c, i) => textOrNull(c, `${field}.handleCandidates[${i}]`)),
    enabled: value.enabled,
    modifiedAt: value.modifiedAt === null ? null : isoTime(value.modifiedAt, `${field}.modifiedAt`),
    readAt: isoTime(value.readAt, `${field}.readAt`),
    seenOnly: value.seenOnly,
  };
}

function users(value: unknown, field: string): UserState[] {
  // A page is at most MAX_BATCH users (the core slices longer ones); the prune's refresh is one.
  if (!Array.isArray(value) || value.length > MAX_BATCH)
    throw new InvalidStoreRequestError(field, `must be a list of at most ${MAX_BATCH} user states`);
  return value.map((user, i) => userState(user, `${field}[${i}]`));
}

function policy(value: unknown, field: string): StoreArgs<'erase'>[1] {
  const found = ERASURE_POLICIES.find((known) => known === value);
  if (found === undefined) throw new InvalidStoreRequestError(field, `must be ${ERASURE_POLICIES.join(' or ')}`);
  return found;
}

function groupName(value: unknown, field: string): string {
  if (!isGroupName(value)) throw new InvalidStoreRequestError(field, 'is not a group name');
  return value;
}

function groupNames(value: unknown, field: string, max: number): string[] {
  if (!Array.isArray(value) || value.length > max)
    throw new InvalidStoreRequestError(field, `must be a list of at most ${max} group names`);
  return value.map((name, i) => groupName(name, `${field}[${i}]`));
}

function subs(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length > MAX_BATCH)
    throw new InvalidStoreRequestError(field, `must be a list of at most ${MAX_BATCH} subs`);
  return value.map((s, i) => sub(s, `${field}[${i}]`));
}

function userPoolId(value: unknown, field: string): string {
  if (typeof value !== 'string' || !isUserPoolId(value))
    throw new InvalidStoreRequestError(field, 'is not a user pool id');
  return value;
}

// ---- reading an answer back (the runner's side) ----

function run(value: unknown, method: string): ReconcileRun {
  if (
    !isRecord(value) ||
    typeof value.runId !== 'string' ||
    typeof value.startedAt !== 'string' ||
    !(value.paginationToken === null || typeof value.paginationToken === 'string') ||
    typeof value.pages !== 'number' ||
    typeof value.scanned !== 'number' ||
    typeof value.resumed !== 'boolean'
  )
    throw new InvalidStoreResponseError(method, 'is not a reconcile run');
  const startedAt = new Date(value.startedAt);
  if (!Number.isFinite(startedAt.getTime())) throw new InvalidStoreResponseError(method, 'has no valid startedAt');
  return {
    runId: value.runId,
    startedAt,
    paginationToken: value.paginationToken,
    pages: value.pages,
    scanned: value.scanned,
    resumed: value.resumed,
  };
}

function applied(value: unknown, method: string): AppliedUser[] {
  if (!Array.isArray(value)) throw new InvalidStoreResponseError(method, 'is not a list of outcomes');
  return value.map((item: unknown) => {
    if (
      !isRecord(item) ||
      typeof item.sub !== 'string' ||
      !(APPLY_OUTCOMES as readonly unknown[]).includes(item.outcome) ||
      !(item.errorCode === null || typeof item.errorCode === 'string')
    )
      throw new InvalidStoreResponseError(method, 'has an outcome that is not one');
    return { sub: item.sub, outcome: item.outcome as AppliedUser['outcome'], errorCode: item.errorCode };
  });
}

function members(value: unknown, method: string): AppliedMember[] {
  if (!Array.isArray(value)) throw new InvalidStoreResponseError(method, 'is not a list of outcomes');
  return value.map((item: unknown) => {
    if (
      !isRecord(item) ||
      typeof item.sub !== 'string' ||
      !(GROUP_MEMBER_OUTCOMES as readonly unknown[]).includes(item.outcome)
    )
      throw new InvalidStoreResponseError(method, 'has an outcome that is not one');
    return { sub: item.sub, outcome: item.outcome as AppliedMember['outcome'] };
  });
}

function wholeNumber(value: unknown, method: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw new InvalidStoreResponseError(method, 'is not a count');
  return value;
}

function nothing(value: unknown, method: string): undefined {
  if (value !== null && value !== undefined) throw new InvalidStoreResponseError(method, 'should be empty');
  return undefined;
}

function oneOf<T extends string>(known: readonly T[]) {
  return (value: unknown, method: string): T => {
    const found = known.find((k) => k === value);
    if (found === undefined) throw new InvalidStoreResponseError(method, `is not one of ${known.join(', ')}`);
    return found;
  };
}

/** For each method: its arguments as the store function checks them, and its result as the runner reads it. */
export interface Codec<M extends StoreMethod> {
  readonly args: (args: readonly unknown[]) => StoreArgs<M>;
  readonly result: (value: unknown, method: M) => StoreResult<M>;
}

/** Checks the number of arguments, then reads them. */
function arity<T>(args: readonly unknown[], n: number, read: () => T): T {
  if (args.length !== n) throw new InvalidStoreRequestError('args', `must hold ${n} value(s)`);
  return read();
}

export const STORE_CODECS: { readonly [M in StoreMethod]: Codec<M> } = {
  bindPool: {
    // JSON turns a missing second argument into null (in a list) or drops it: both mean no options.
    args: (args) => {
      if (args.length !== 1 && args.length !== 2) throw new InvalidStoreRequestError('args', 'must hold 1 or 2 values');
      const poolId = userPoolId(args[0], 'args[0]');
      const options = args[1];
      if (options === undefined || options === null) return [poolId];
      if (!isRecord(options) || Object.keys(options).some((key) => key !== 'dryRun'))
        throw new InvalidStoreRequestError('args[1]', 'must be {"dryRun": true|false}');
      if (options.dryRun === undefined) return [poolId, {}];
      if (typeof options.dryRun !== 'boolean')
        throw new InvalidStoreRequestError('args[1].dryRun', 'must be a boolean');
      return [poolId, { dryRun: options.dryRun }];
    },
    result: oneOf(BIND_POOL_OUTCOMES),
  },
  pruneSummary: {
    args: (args) => arity(args, 1, () => [runId(args[0], 'args[0]')]),
    result: (value, method) => {
      if (
        !isRecord(value) ||
        !Number.isSafeInteger(value.candidates) ||
        !Number.isSafeInteger(value.tableRows) ||
        Object.keys(value).length !== 2
      )
        throw new InvalidStoreResponseError(method, 'is not a prune summary');
      return { candidates: value.candidates as number, tableRows: value.tableRows as number };
    },
  },
  restore: {
    args: (args) => arity(args, 1, () => [sub(args[0], 'args[0]')]),
    result: oneOf(RESTORE_OUTCOMES),
  },
  begin: { args: (args) => arity(args, 0, () => []), result: run },
  resume: {
    args: (args) => arity(args, 0, () => []),
    result: (value, method) => (value === null || value === undefined ? undefined : run(value, method)),
  },
  applyPage: {
    args: (args) =>
      arity(args, 4, () => [
        runId(args[0], 'args[0]'),
        token(args[1], 'args[1]'),
        users(args[2], 'args[2]'),
        token(args[3], 'args[3]'),
      ]),
    result: applied,
  },
  applyInRun: {
    args: (args) => arity(args, 2, () => [runId(args[0], 'args[0]'), users(args[1], 'args[1]')]),
    result: applied,
  },
  rewind: { args: (args) => arity(args, 1, () => [runId(args[0], 'args[0]')]), result: nothing },
  pruneCandidates: {
    args: (args) =>
      arity(args, 3, () => [
        runId(args[0], 'args[0]'),
        args[1] === null ? null : sub(args[1], 'args[1]'),
        count(args[2], 'args[2]', MAX_PRUNE_CHUNK, 1),
      ]),
    result: (value, method) => {
      if (!Array.isArray(value) || !value.every((s): s is string => typeof s === 'string'))
        throw new InvalidStoreResponseError(method, 'is not a list of subs');
      return value;
    },
  },
  erase: {
    args: (args) => arity(args, 2, () => [sub(args[0], 'args[0]'), policy(args[1], 'args[1]')]),
    result: oneOf(ERASE_OUTCOMES),
  },
  apply: { args: (args) => arity(args, 1, () => [users(args[0], 'args[0]')]), result: applied },
  recordPrune: {
    args: (args) =>
      arity(args, 2, () => [runId(args[0], 'args[0]'), count(args[1], 'args[1]', Number.MAX_SAFE_INTEGER)]),
    result: nothing,
  },
  preview: { args: (args) => arity(args, 1, () => [users(args[0], 'args[0]')]), result: applied },
  groupsPending: {
    args: (args) => arity(args, 0, () => []),
    result: (value, method) => {
      if (value === null || value === undefined) return undefined;
      if (
        !isRecord(value) ||
        typeof value.runId !== 'string' ||
        !(value.after === null || typeof value.after === 'string')
      )
        throw new InvalidStoreResponseError(method, 'is not a groups phase to resume');
      return { runId: value.runId, after: value.after };
    },
  },
  applyGroupMembers: {
    args: (args) =>
      arity(args, 3, () => [groupName(args[0], 'args[0]'), subs(args[1], 'args[1]'), isoTime(args[2], 'args[2]')]),
    result: members,
  },
  endGroupMembers: {
    args: (args) => arity(args, 2, () => [groupName(args[0], 'args[0]'), isoTime(args[1], 'args[1]')]),
    result: wholeNumber,
  },
  pruneGroups: {
    args: (args) =>
      arity(args, 2, () => [groupNames(args[0], 'args[0]', MAX_POOL_GROUPS), isoTime(args[1], 'args[1]')]),
    result: (value, method) => {
      if (!Array.isArray(value)) throw new InvalidStoreResponseError(method, 'is not a list of deleted groups');
      return value.map((item: unknown) => {
        if (!isRecord(item) || typeof item.group !== 'string')
          throw new InvalidStoreResponseError(method, 'is not a list of deleted groups');
        return { group: item.group, removed: wholeNumber(item.removed, method) };
      });
    },
  },
  recordGroupScan: {
    args: (args) =>
      arity(args, 2, () => [runId(args[0], 'args[0]'), args[1] === null ? null : groupName(args[1], 'args[1]')]),
    result: nothing,
  },
};

/** A request's method and arguments, checked; anything else is an InvalidStoreRequestError naming the field. */
export function parseStoreRequest(event: unknown): StoreRequest {
  if (!isRecord(event)) throw new InvalidStoreRequestError('request', 'must be a JSON object {"method","args"}');
  const extra = Object.keys(event).find((key) => key !== 'method' && key !== 'args');
  if (extra !== undefined) throw new InvalidStoreRequestError(JSON.stringify(extra.slice(0, 40)), 'is not a field');
  const method = STORE_METHODS.find((known) => known === event.method);
  if (method === undefined) throw new InvalidStoreRequestError('method', 'is not a store method');
  if (!Array.isArray(event.args)) throw new InvalidStoreRequestError('args', 'must be a list');
  const codec = STORE_CODECS[method] as Codec<StoreMethod>;
  return { method, args: codec.args(event.args as unknown[]) };
}

/** Reads a store function's answer to `method`: its result, or the failure thrown as a RemoteStoreError. */
export function readStoreResponse<M extends StoreMethod>(method: M, response: unknown): StoreResult<M> {
  if (!isRecord(response) || typeof response.ok !== 'boolean')
    throw new InvalidStoreResponseError(method, 'is not a store response');
  if (response.ok) return STORE_CODECS[method].result(response.result, method);
  const error = response.error;
  if (!isRecord(error) || typeof error.name !== 'string' || typeof error.message !== 'string')
    throw new InvalidStoreResponseError(method, 'is a failure without a name and message');
  const code = typeof error.code === 'string' ? error.code : undefined;
  throw new RemoteStoreError(method, error.name, code, error.message);
}
