// What the SQL tests share: a test server migrated as the test asks, one connection per function role (logged
// in as that role, as the functions are), the admin connection, and helpers that call each sync function.
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { errorCode } from '../../lambdas/postgres/error-codes';
import { migrateDatabase, MIGRATIONS_DIR } from '../../lambdas/postgres/migrate';
import { setRolePasswords, type TestServer, startTestServer } from '../support/postgres';

// On RDS the roles log in with IAM tokens; this loopback-only test server gives them a throwaway password.
const TEST_PASSWORD = 'user-lifecycle-local-test';
export const ROLES = ['signup_writer', 'sync_writer', 'user_reconciler', 'handle_checker'] as const;
export type Role = (typeof ROLES)[number];
export const NEW_ROLES = ['sync_writer', 'user_reconciler', 'handle_checker'] as const;

// Set by useDatabase's beforeAll; each test file has its own copy of this module.
export let server: TestServer;
export let admin: Client;
const clients: Client[] = [];
export const as = {} as Record<Role, Client>;

export function roleUrl(role: Role): string {
  return `postgres://${role}:${TEST_PASSWORD}@127.0.0.1:${server.port}/postgres`;
}

export async function connectAs(role: Role): Promise<Client> {
  const client = new Client({ connectionString: roleUrl(role) });
  await client.connect();
  clients.push(client);
  return client;
}

/** Another superuser session, closed with the others after the file. */
export async function connectAdmin(): Promise<Client> {
  const client = new Client({ connectionString: server.url() });
  await client.connect();
  clients.push(client);
  return client;
}

/** The SQLSTATE a statement fails with, or undefined when it succeeds. */
export async function failureOf(work: Promise<unknown>): Promise<string | undefined> {
  try {
    await work;
    return undefined;
  } catch (error) {
    return errorCode(error) ?? String(error);
  }
}

/** A fixed clock: minute n after 10:00 on the day the tests pretend it is. */
export function at(minute: number): string {
  return new Date(Date.UTC(2026, 11, 1, 10, minute)).toISOString();
}

export interface UserState {
  readonly sub: string;
  readonly email?: string | null;
  readonly name?: string | null;
  readonly handle?: string | null;
  readonly handle_candidates?: readonly (string | null)[];
  readonly enabled?: boolean | string;
  readonly modified_at?: string;
  readonly read_at?: string;
  readonly seen_only?: boolean;
}

export interface Applied {
  cognito_user_id: string;
  outcome: string;
  error_code: string | null;
}

export interface UserRow {
  email: string | null;
  display_name: string | null;
  handle: string | null;
  enabled: boolean;
  synced_at: Date | null;
  pool_modified_at: Date | null;
  deleted_at: Date | null;
  reconcile_run: string | null;
  // The row version's creating transaction: unchanged means nothing wrote the row.
  xmin: string;
}

/** An instant `minutes` from now by the database's clock (negative: before now). */
export async function fromNow(minutes: number): Promise<string> {
  const { rows } = await admin.query<{ at: Date }>("SELECT clock_timestamp() + $1 * interval '1 minute' AS at", [
    minutes,
  ]);
  return rows[0]!.at.toISOString();
}

export async function backendPid(client: Client): Promise<number> {
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return rows[0]!.pid;
}

/** Resolves once the server process `pid` waits for a lock; rejects after `ms`. */
export async function waitingForLock(pid: number, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const { rows } = await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", [
      pid,
    ]);
    if (rows.length === 1) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`session ${pid} never waited for a lock`);
}

/** The anonymized rows: the ones erasure kept for their activities. */
export async function ghosts(): Promise<(UserRow & { cognito_user_id: string; uuid: string })[]> {
  const { rows } = await admin.query<UserRow & { cognito_user_id: string; uuid: string }>(
    `SELECT cognito_user_id, uuid, email, display_name, handle, enabled, synced_at, pool_modified_at, deleted_at,
            reconcile_run, xmin::text AS xmin
       FROM public.users WHERE deleted_at IS NOT NULL ORDER BY cognito_user_id`,
  );
  return rows;
}

export async function bindPool(poolId: string | null, client: Client = as.user_reconciler): Promise<string> {
  const { rows } = await client.query<{ outcome: string }>('SELECT sync.bind_pool($1) AS outcome', [poolId]);
  return rows[0]!.outcome;
}

export async function restoreUser(sub: string | null, client: Client = as.user_reconciler): Promise<string> {
  const { rows } = await client.query<{ outcome: string }>('SELECT sync.restore_user($1) AS outcome', [sub]);
  return rows[0]!.outcome;
}

export async function pruneSummary(
  runId: string,
  client: Client = as.user_reconciler,
): Promise<{ candidates: number; table_rows: number }> {
  const { rows } = await client.query<{ candidates: string; table_rows: string }>(
    'SELECT * FROM sync.prune_summary($1)',
    [runId],
  );
  const summary = rows[0]!;
  return { candidates: Number(summary.candidates), table_rows: Number(summary.table_rows) };
}

export function state(sub: string, minute: number, fields: Partial<UserState> = {}): UserState {
  return {
    sub,
    email: `${sub}@example.com`,
    name: `Name ${sub}`,
    // The handle rule (letters, digits, underscore) holds for every sub the tests use once '-' becomes '_'.
    handle: sub.replaceAll('-', '_'),
    enabled: true,
    modified_at: at(minute),
    read_at: at(minute),
    ...fields,
  };
}

export async function applyUsers(
  users: readonly UserState[],
  runId: string | null = null,
  client: Client = as.sync_writer,
): Promise<Applied[]> {
  const { rows } = await client.query<Applied>('SELECT * FROM sync.apply_users($1::jsonb, $2)', [
    JSON.stringify(users),
    runId,
  ]);
  return rows;
}

export async function outcomes(
  users: readonly UserState[],
  runId: string | null = null,
  client: Client = as.sync_writer,
): Promise<Record<string, string>> {
  const rows = await applyUsers(users, runId, client);
  return Object.fromEntries(rows.map((row) => [row.cognito_user_id, row.outcome]));
}

export async function signUp(
  sub: string,
  email: string | null,
  candidates: readonly (string | null)[],
  readAt: string,
  client: Client = as.signup_writer,
): Promise<{ outcome: string; handle_adjusted: boolean }> {
  const { rows } = await client.query<{ outcome: string; handle_adjusted: boolean }>(
    'SELECT * FROM sync.sign_up($1, $2, $3, $4, $5)',
    [sub, email, email === null ? null : `Name ${sub}`, candidates, readAt],
  );
  if (rows[0] === undefined) throw new Error('sync.sign_up returned no row');
  return rows[0];
}

export async function erase(sub: string, policy: string, client: Client = as.sync_writer): Promise<string> {
  const { rows } = await client.query<{ outcome: string }>('SELECT sync.erase_user($1, $2) AS outcome', [sub, policy]);
  return rows[0]?.outcome ?? 'no row';
}

export async function row(sub: string): Promise<UserRow | undefined> {
  const { rows } = await admin.query<UserRow>(
    `SELECT email, display_name, handle, enabled, synced_at, pool_modified_at, deleted_at, reconcile_run, xmin::text AS xmin
       FROM public.users WHERE cognito_user_id = $1`,
    [sub],
  );
  return rows[0];
}

export async function tombstoned(sub: string): Promise<boolean> {
  const { rows } = await admin.query('SELECT 1 FROM sync.erased_users WHERE cognito_user_id = $1', [sub]);
  return rows.length === 1;
}

export interface Run {
  run_id: string;
  pagination_token: string | null;
  pages: number;
  scanned: string;
  resumed: boolean;
}

export async function beginReconcile(client: Client = as.user_reconciler): Promise<Run> {
  const { rows } = await client.query<Run>('SELECT * FROM sync.begin_reconcile()');
  if (rows[0] === undefined) throw new Error('sync.begin_reconcile returned no row');
  return rows[0];
}

export async function applyPage(
  runId: string,
  pageToken: string | null,
  users: readonly UserState[],
  nextToken: string | null,
  client: Client = as.user_reconciler,
): Promise<Record<string, string>> {
  const { rows } = await client.query<Applied>('SELECT * FROM sync.apply_reconcile_page($1, $2, $3::jsonb, $4)', [
    runId,
    pageToken,
    JSON.stringify(users),
    nextToken,
  ]);
  return Object.fromEntries(rows.map((result) => [result.cognito_user_id, result.outcome]));
}

export async function completedRun(): Promise<string> {
  const run = await beginReconcile(admin);
  await applyPage(run.run_id, run.pagination_token, [], null, admin);
  return run.run_id;
}

export async function pruneCandidates(runId: string, afterSub: string | null = null, max = 100): Promise<string[]> {
  const { rows } = await as.user_reconciler.query<{ sub: string }>(
    'SELECT sub FROM sync.prune_candidates($1, $2, $3) AS sub',
    [runId, afterSub, max],
  );
  return rows.map((candidate) => candidate.sub);
}

export async function reset(): Promise<void> {
  // sync.pool_binding comes with 0005; the tests of 0003 run on a schema without it.
  const { rows } = await admin.query<{ present: boolean }>(
    "SELECT to_regclass('sync.pool_binding') IS NOT NULL AS present",
  );
  await admin.query(
    rows[0]?.present
      ? 'TRUNCATE public.users, sync.erased_users, sync.reconcile_runs, sync.pool_binding RESTART IDENTITY CASCADE'
      : 'TRUNCATE public.users, sync.erased_users, sync.reconcile_runs RESTART IDENTITY CASCADE',
  );
}

/** A handle of 2048 distinct CJK characters: valid text within Cognito's limit, too large for the btree index. */
export const OVERSIZED_HANDLE = Array.from({ length: 2048 }, (_, i) =>
  String.fromCodePoint(0x4e00 + ((i * 7919) % 20000)),
).join('');

/**
 * Applies the numbered migrations up to and including 0003 as `url`'s user, the old way (no function files):
 * the schema 0003 made, whatever later migrations change (their own tests show what they do to it).
 */
export async function migrateThrough0003(url: string): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'through-0003-'));
  const client = new Client({ connectionString: url });
  try {
    for (const file of await readdir(MIGRATIONS_DIR)) {
      if (file.endsWith('.sql') && file < '0004') await copyFile(join(MIGRATIONS_DIR, file), join(dir, file));
    }
    await client.connect();
    return (await migrateDatabase(client, { migrationsDir: dir, functionsDir: false })).migrations;
  } finally {
    await client.end();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every migration and function file, as `npm run db -- migrate` applies them: the schema as it is now. */
async function migrateCurrent(url: string): Promise<void> {
  const client = new Client({ connectionString: url });
  try {
    await client.connect();
    await migrateDatabase(client);
  } finally {
    await client.end();
  }
}

/**
 * Starts a server for the calling test file, migrated to the current schema (or through 0003 only, for the
 * tests of that migration), and connects as the superuser and as each function role.
 */
export function useDatabase(schema: 'current' | 'through 0003' = 'current'): void {
  beforeAll(async () => {
    server = await startTestServer();
    const adminUrl = server.url();
    await (schema === 'current' ? migrateCurrent(adminUrl) : migrateThrough0003(adminUrl));
    await setRolePasswords(adminUrl, ROLES, TEST_PASSWORD);
    admin = new Client({ connectionString: adminUrl });
    await admin.connect();
    for (const role of ROLES) as[role] = await connectAs(role);
  });

  afterAll(async () => {
    await Promise.all(clients.splice(0).map((client) => client.end()));
    await admin?.end();
    await server?.destroy();
  });
}
