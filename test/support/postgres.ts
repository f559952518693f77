// The tests' PostgreSQL: throwaway embedded servers from local/embedded-postgres.ts, with a known superuser
// password that some tests put into URLs of their own.
import { startEmbeddedPostgres, startMigratedPostgres, withClient, type EmbeddedPostgresServer } from '../../local/embedded-postgres';

export { freePort } from '../../local/ports';

export type TestServer = EmbeddedPostgresServer;

// A throwaway local-only credential for a server that listens on loopback and lives for one test run.
const SUPERUSER_PASSWORD = 'postgres';

export function startTestServer(options: { readonly port?: number; readonly settings?: Readonly<Record<string, string>> } = {}): Promise<TestServer> {
  return startEmbeddedPostgres({ persistent: false, password: SUPERUSER_PASSWORD, ...options });
}

/** Runs one statement as the superuser on the given server URL. */
export async function adminQuery(url: string, text: string, values: unknown[] = []): Promise<void> {
  await withClient(url, (client) => client.query(text, values));
}

/** A running server with a migrated database: what most database tests start from. */
export function startMigratedServer(): Promise<{ server: TestServer; url: string }> {
  return startMigratedPostgres({ password: SUPERUSER_PASSWORD });
}
