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
}

export interface LocalPostgres {
  /** Superuser URL of the `cruddur` database; its password is a random local-only one made at initialisation. */
  readonly url: string;
  readonly initialised: boolean;
  readonly migrations: readonly string[];
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

function migrateAndSeed(url: string): Promise<string[]> {
  return withClient(url, async (client) => {
    const applied = await applyMigrations(client);
    // The seed file is idempotent (fixed keys, ON CONFLICT DO NOTHING), so it runs on every start.
    await client.query(await readFile(SEED_FILE, 'utf8'));
    return applied;
  });
}

export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  const dataDir = join(options.dir, 'postgres');
  await mkdir(options.dir, { recursive: true });
  // The postgres user (as root) must traverse the state directory to reach its cluster.
  if (isRoot()) await chmod(options.dir, 0o755);
  const server = await startEmbeddedPostgres({
    persistent: true,
    dataDir,
    port: options.port,
    password: await passwordFor(options.dir, dataDir),
    ...(options.onLog ? { onLog: options.onLog } : {}),
  });
  const url = server.url(DATABASE);
  try {
    await ensureDatabase(server.url());
    const migrations = await migrateAndSeed(url);
    return { url, initialised: server.initialised, migrations, stop: () => server.stop() };
  } catch (error) {
    await server.stop();
    throw error;
  }
}
