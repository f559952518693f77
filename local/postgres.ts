// The local stack's PostgreSQL: a persistent embedded cluster in the state directory, its own local-only
// password, and the `cruddur` database migrated and seeded on every start.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { applyMigrations } from '../lambdas/postgres/migrate';
import { LocalPostgresError, startEmbeddedPostgres, withClient } from './embedded-postgres';

export const DATABASE = 'cruddur';
export const SEED_FILE = join(__dirname, '..', 'sql', 'seed.sql');

export interface LocalPostgresOptions {
  /** The stack's state directory; the cluster lives in `<dir>/postgres`. */
  readonly dir: string;
  readonly port: number;
  /** Receives the server's own log lines (default: kept only to explain a failed start). */
  readonly onLog?: (line: string) => void;
  /** Lines for the person watching: the server stopped on its own, and whether it is back. */
  readonly onStatus?: (line: string) => void;
  /** Pause before each start after an unexpected exit. @default 1000 */
  readonly restartDelayMs?: number;
}

/** Tries to start a server that stopped on its own again; after this many failures it says how to recover. */
export const RESTART_ATTEMPTS = 3;

export interface LocalPostgres {
  /** Superuser URL of the `cruddur` database; its password is a random local-only one made at initialisation. */
  readonly url: string;
  readonly initialised: boolean;
  readonly migrations: readonly string[];
  readonly seed: SeedOutcome;
  stop(): Promise<void>;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

async function passwordFor(dir: string, dataDir: string): Promise<string> {
  const file = join(dir, 'postgres-password');
  if (existsSync(join(dataDir, 'PG_VERSION'))) {
    if (!existsSync(file)) {
      throw new LocalPostgresError(`${dataDir} exists but ${file} is missing; reset the local data with rm -rf ${dir}`);
    }
    return (await readFile(file, 'utf8')).trim();
  }
  // Made once per data directory and never printed except inside the connection URL the developer asked for.
  const password = randomBytes(18).toString('hex');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  await withClient(adminUrl, async (client) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    // DATABASE is the constant 'cruddur': named literally, since DDL takes no parameters.
    if (found.rowCount === 0) await client.query('CREATE DATABASE cruddur');
  });
}

/** What the seed did to its mock users (cognito_user_id `MOCK-…`) on this start. */
export interface SeedOutcome {
  readonly inserted: number;
  /** Already in public.users from an earlier start. */
  readonly present: number;
  /** Erased earlier (a tombstone in sync.erased_users): the insert trigger skips them, by design. */
  readonly erased: number;
}

/** `seeded 2 mock users` or, when some were skipped, how many and why. */
export function describeSeed(seed: SeedOutcome): string {
  const parts = [`${seed.inserted} mock user${seed.inserted === 1 ? '' : 's'} seeded`];
  if (seed.present > 0) parts.push(`${seed.present} already there`);
  if (seed.erased > 0) parts.push(`${seed.erased} erased earlier and not re-inserted (sync.erased_users)`);
  return parts.join(', ');
}

function migrateAndSeed(url: string): Promise<{ applied: string[]; seed: SeedOutcome }> {
  return withClient(url, async (client) => {
    const applied = await applyMigrations(client);
    // The seed file is idempotent (fixed keys, ON CONFLICT DO NOTHING), so it runs on every start; a mock user
    // erased earlier is skipped by the insert trigger, silently, so it is counted here.
    const results = (await client.query(await readFile(SEED_FILE, 'utf8'))) as unknown as
      { command: string; rowCount: number | null } | { command: string; rowCount: number | null }[];
    const firstInsert = (Array.isArray(results) ? results : [results]).find((result) => result.command === 'INSERT');
    const counts = await client.query<{ present: number; erased: number }>(
      `SELECT (SELECT count(*) FROM public.users WHERE cognito_user_id LIKE 'MOCK-%')::int AS present,
              (SELECT count(*) FROM sync.erased_users WHERE cognito_user_id LIKE 'MOCK-%')::int AS erased`,
    );
    const inserted = firstInsert?.rowCount ?? 0;
    const { present = 0, erased = 0 } = counts.rows[0] ?? {};
    return { applied, seed: { inserted, present: present - inserted, erased } };
  });
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  const dataDir = join(options.dir, 'postgres');
  await mkdir(options.dir, { recursive: true });
  // The postgres user (as root) must traverse the state directory to reach its cluster.
  if (isRoot()) await chmod(options.dir, 0o755);
  const status = options.onStatus ?? (() => undefined);
  const delayMs = options.restartDelayMs ?? 1000;
  let stopped = false;
  // A server stopped under the running stack (killed, pg_ctl stop, a crash) is said in the stack's window and
  // started again, a few times; the data directory is kept whatever happens.
  const restart = async (how: string) => {
    status(`PostgreSQL stopped on its own (${how}); starting it again on port ${options.port}`);
    for (let attempt = 1; attempt <= RESTART_ATTEMPTS && !stopped; attempt += 1) {
      await new Promise((resolveDelay) => setTimeout(resolveDelay, delayMs));
      if (stopped) return;
      try {
        await server.start();
        status(`PostgreSQL is back on port ${options.port}`);
        return;
      } catch (error) {
        status(`PostgreSQL did not start (attempt ${attempt} of ${RESTART_ATTEMPTS}): ${firstLine(error)}`);
      }
    }
    if (!stopped)
      status(
        `PostgreSQL stays stopped; its data in ${dataDir} is kept. Stop the stack (Ctrl-C) and run npm start again`,
      );
  };
  const server = await startEmbeddedPostgres({
    persistent: true,
    dataDir,
    port: options.port,
    password: await passwordFor(options.dir, dataDir),
    ...(options.onLog ? { onLog: options.onLog } : {}),
    onUnexpectedExit: (how) => void restart(how),
  });
  const url = server.url(DATABASE);
  try {
    await ensureDatabase(server.url());
    const { applied: migrations, seed } = await migrateAndSeed(url);
    return {
      url,
      initialised: server.initialised,
      migrations,
      seed,
      stop: () => {
        stopped = true;
        return server.stop();
      },
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}
