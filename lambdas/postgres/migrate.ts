// Applies sql/migrations with postgres-migrations: one transaction per file, a hash check that refuses a file
// changed after it was applied, and an advisory lock so that concurrent runs apply each file once.
// Used by `npm run db -- migrate` and by the migration function that runs on deploy.
import { join } from 'node:path';
import { migrate } from 'postgres-migrations';
import type { Client } from 'pg';

export const MIGRATIONS_DIR = join(__dirname, '..', '..', 'sql', 'migrations');

export class MigrationRefusedError extends Error {
  override readonly name = 'MigrationRefusedError';
}

/** Applies every pending migration in `dir` on a connected client; resolves to the file names it applied. */
export async function applyMigrations(
  client: Client,
  dir: string = MIGRATIONS_DIR,
  log: (message: string) => void = () => undefined,
): Promise<string[]> {
  try {
    const applied = await migrate({ client }, dir, { logger: log });
    // Id 0 is the library's own bookkeeping table, not one of ours.
    return applied.filter((migration) => migration.id !== 0).map((migration) => migration.fileName);
  } catch (error) {
    // The library's message already names the file and the reason (a changed hash, a failed statement).
    throw new MigrationRefusedError(error instanceof Error ? error.message : String(error));
  }
}
