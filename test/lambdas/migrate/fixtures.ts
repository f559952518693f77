// What the migration function's tests share: the migration and function files, a master secret, and fresh databases on a
// test server to migrate.
import { readdirSync } from 'node:fs';
import { Client, escapeIdentifier } from 'pg';
import type { MigrateSettings } from '../../../lambdas/migrate/settings';
import { FUNCTIONS_DIR, MIGRATIONS_DIR, readFunctionFiles } from '../../../lambdas/postgres/migrate';
import { adminQuery, type TestServer } from '../../support/postgres';

// Every file in sql/migrations, in the order they apply.
export const MIGRATION_FILES = readdirSync(MIGRATIONS_DIR)
  .filter((file) => file.endsWith('.sql'))
  .sort();
// Every file in sql/functions, in the order they apply.
export const FUNCTION_FILES = readFunctionFiles(FUNCTIONS_DIR).map((file) => file.path);
export const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:cruddur-master-AbCdEf';
// The embedded server's throwaway superuser (test/support/postgres.ts), standing in for the RDS master user.
export const MASTER = { username: 'postgres', password: 'postgres' };

/** Databases on `server()` (read when called: the server starts in a beforeAll), each a clean slate. */
export function migrateDatabases(server: () => TestServer) {
  let database = 0;
  return {
    settings: (name: string): MigrateSettings => ({
      secretArn: SECRET_ARN,
      host: '127.0.0.1',
      port: server().port,
      database: name,
      migrationsDir: MIGRATIONS_DIR,
      functionsDir: FUNCTIONS_DIR,
    }),
    freshDatabase: async (): Promise<string> => {
      const name = `migrate_${++database}`;
      // A generated name, quoted as an identifier: CREATE DATABASE takes no parameters.
      await adminQuery(server().url(), 'CREATE DATABASE ' + escapeIdentifier(name));
      return name;
    },
    tables: async (name: string): Promise<string[]> => {
      const client = new Client({ connectionString: server().url(name) });
      await client.connect();
      try {
        const { rows } = await client.query<{ table_name: string }>(
          "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
        );
        return rows.map((row) => row.table_name);
      } finally {
        await client.end();
      }
    },
  };
}
