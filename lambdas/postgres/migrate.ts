// Applies sql/migrations with postgres-migrations: one transaction per file, a hash check that refuses a file
// changed after it was applied, and an advisory lock so that concurrent runs apply each file once.
// Used by `npm run db -- migrate` and by the migration function that runs on deploy.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { migrate } from 'postgres-migrations';
import type { Client } from 'pg';
import { errorCode } from './error-codes';

export const MIGRATIONS_DIR = join(__dirname, '..', '..', 'sql', 'migrations');

export type MigrationRefusal = 'changed' | 'failed' | 'invalid';

const REASONS: Readonly<Record<MigrationRefusal, string>> = {
  changed: 'its contents changed after it was applied (the hash does not match); add a new file instead',
  failed: 'a statement in it failed; it was rolled back and no later file ran',
  invalid: 'the migrations directory is not valid (file names, consecutive ids)',
};

/**
 * A migration was not applied. It names the file, what went wrong and the SQLSTATE, and never the server's
 * message, which can quote a value (`invalid input syntax for type uuid: "jane@example.com"`): this text is
 * logged, re-thrown, and shown in CloudFormation's events.
 */
export class MigrationRefusedError extends Error {
  override readonly name = 'MigrationRefusedError';
  constructor(
    readonly reason: MigrationRefusal,
    readonly file?: string,
    readonly code?: string,
  ) {
    super(
      `Migration ${file ?? '(no single file)'} refused: ${REASONS[reason]}${code === undefined ? '' : ` (SQLSTATE ${code})`}`,
    );
  }
}

// postgres-migrations' own messages quote the file between single quotes; a file name is ours, never personal data.
const FILE_IN_MESSAGE = /(?:running|migrations|Offending file:|on file:) '([^']+)'/;

/** A failed run is reported by the migration's name (`0004_add_x.sql` is `add_x`): back to its file name. */
function fileNamed(dir: string, quoted: string): string {
  if (/\.(sql|js)$/.test(quoted)) return quoted;
  try {
    return (
      readdirSync(dir).find((file) => file.replace(/^\d+[-_]?/, '').replace(/\.(sql|js)$/, '') === quoted) ?? quoted
    );
  } catch {
    return quoted;
  }
}

/** Applies every pending migration in `dir` on a connected client; resolves to the file names it applied. */
export async function applyMigrations(
  client: Client,
  dir: string = MIGRATIONS_DIR,
  log: (message: string) => void = () => undefined,
): Promise<string[]> {
  // The library rethrows a failed statement as a new Error with only its text: keep the SQLSTATE on the way.
  let failedCode: string | undefined;
  const watched = {
    query: (...args: Parameters<Client['query']>) =>
      (client.query as (...a: unknown[]) => Promise<unknown>)(...args).catch((error: unknown) => {
        failedCode = errorCode(error);
        throw error;
      }),
  } as unknown as Client;
  try {
    const applied = await migrate({ client: watched }, dir, { logger: log });
    // Id 0 is the library's own bookkeeping table, not one of ours.
    return applied.filter((migration) => migration.id !== 0).map((migration) => migration.fileName);
  } catch (error) {
    const text = error instanceof Error ? error.message : '';
    const quoted = FILE_IN_MESSAGE.exec(text)?.[1];
    const file = quoted === undefined ? undefined : fileNamed(dir, quoted);
    const reason: MigrationRefusal = /Hashes don't match/.test(text)
      ? 'changed'
      : failedCode !== undefined
        ? 'failed'
        : 'invalid';
    throw new MigrationRefusedError(reason, file, reason === 'failed' ? failedCode : undefined);
  }
}
