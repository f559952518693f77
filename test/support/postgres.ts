// The tests' PostgreSQL: throwaway embedded servers from local/embedded-postgres.ts, with a known superuser
// password that some tests put into URLs of their own.
import {
  startEmbeddedPostgres,
  startMigratedPostgres,
  withClient,
  type EmbeddedPostgresServer,
} from '../../local/embedded-postgres';

export { freePort } from '../../local/ports';

export type TestServer = EmbeddedPostgresServer;

// A throwaway local-only credential for a server that listens on loopback and lives for one test run.
const SUPERUSER_PASSWORD = 'postgres';

export function startTestServer(
  options: { readonly port?: number; readonly settings?: Readonly<Record<string, string>> } = {},
): Promise<TestServer> {
  return startEmbeddedPostgres({ persistent: false, password: SUPERUSER_PASSWORD, ...options });
}

/** Runs one statement as the superuser on the given server URL. */
export async function adminQuery(url: string, text: string, values: unknown[] = []): Promise<void> {
  await withClient(url, (client) => client.query(text, values));
}

// ALTER ROLE takes no parameters, so the role and the password go in as parameters of a session-local
// function that quotes them on the server (%I, %L): no SQL is put together on this side.
const SET_ROLE_PASSWORD = `CREATE OR REPLACE FUNCTION pg_temp.set_role_password(role_name text, secret text) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN EXECUTE format('ALTER ROLE %I PASSWORD %L', role_name, secret); END $$`;

type SessionClient = { query(text: string, values?: unknown[]): Promise<unknown> };

/** Gives each role a throwaway password for this loopback test server (on RDS the roles log in with IAM tokens). */
export async function setRolePasswords(
  target: string | SessionClient,
  roles: readonly string[],
  password: string,
): Promise<void> {
  const run = async (client: SessionClient) => {
    await client.query(SET_ROLE_PASSWORD);
    for (const role of roles) await client.query('SELECT pg_temp.set_role_password($1, $2)', [role, password]);
  };
  if (typeof target === 'string') await withClient(target, run);
  else await run(target);
}

/** A running server with a migrated database: what most database tests start from. */
export function startMigratedServer(): Promise<{ server: TestServer; url: string }> {
  return startMigratedPostgres({ password: SUPERUSER_PASSWORD });
}
