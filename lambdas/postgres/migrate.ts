// Applies sql/migrations with postgres-migrations (one transaction per file, a hash check that refuses a file
// changed after it was applied, an advisory lock so that concurrent runs apply each file once), then the
// function files of sql/functions, each re-applied whenever its hash changes (sql/functions/README.md).
// Used by `npm run db -- migrate` and by the migration function that runs on deploy.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, sep } from 'node:path';
import { migrate } from 'postgres-migrations';
import type { Client } from 'pg';
import { errorCode } from './error-codes';

export const MIGRATIONS_DIR = join(__dirname, '..', '..', 'sql', 'migrations');

export type MigrationRefusal = 'changed' | 'failed' | 'invalid' | 'unreadable';

const REASONS: Readonly<Record<MigrationRefusal, string>> = {
  changed: 'its contents changed after it was applied (the hash does not match); add a new file instead',
  failed: 'a statement in it failed; it was rolled back and no later file ran',
  invalid: 'the migrations directory is not valid (file names, consecutive ids)',
  unreadable: 'the function files directory cannot be read',
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

/** Applies every pending numbered migration in `dir`; resolves to the file names it applied. */
async function applyNumberedMigrations(
  client: Client,
  dir: string,
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

export const FUNCTIONS_DIR = join(__dirname, '..', '..', 'sql', 'functions');

// Two-key advisory lock: its own space, apart from postgres-migrations' single-key lock and the triggers' space 3.
const FUNCTION_FILES_LOCK = [4, 0] as const;

export interface FunctionFile {
  /** Relative to the functions directory, with `/`: `sync/sign_up.sql`. */
  readonly path: string;
  readonly sql: string;
  readonly sha256: string;
}

/** Every `*.sql` file below `dir`, in the order they apply: sorted by relative path (sql/functions/README.md). */
export function readFunctionFiles(dir: string = FUNCTIONS_DIR): FunctionFile[] {
  let paths: string[];
  try {
    paths = readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .map((path) => path.split(sep).join('/'))
      .filter((path) => path.endsWith('.sql'))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  } catch {
    throw new MigrationRefusedError('unreadable', basename(dir));
  }
  return paths.map((path) => {
    const sql = readFileSync(join(dir, path), 'utf8');
    return { path, sql, sha256: createHash('sha256').update(sql).digest('hex') };
  });
}

/**
 * Applies every function file in `dir` that is new or whose hash differs from the one recorded, each in its own
 * transaction together with its new hash; resolves to the paths it applied. Runs after the numbered migrations:
 * the files use their tables, types and roles.
 */
export async function applyFunctionFiles(
  client: Client,
  dir: string = FUNCTIONS_DIR,
  log: (message: string) => void = () => undefined,
): Promise<string[]> {
  const files = readFunctionFiles(dir);
  await client.query('SELECT pg_catalog.pg_advisory_lock($1, $2)', [...FUNCTION_FILES_LOCK]);
  try {
    // Each function file's hash: the migrator's own table, like postgres-migrations' `migrations`, so it takes no
    // migration number. In schema `deploy` (0004), which only the migrating user may use.
    await client.query(`CREATE TABLE IF NOT EXISTS deploy.function_files (
      path       text        PRIMARY KEY,
      sha256     text        NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT pg_catalog.now()
    )`);
    // Read under the lock: a concurrent run that applied a file first has recorded it by now.
    const { rows } = await client.query<{ path: string; sha256: string }>(
      `SELECT path, sha256 FROM deploy.function_files`,
    );
    const recorded = new Map(rows.map((row) => [row.path, row.sha256]));
    const applied: string[] = [];
    for (const file of files) {
      if (recorded.get(file.path) === file.sha256) continue;
      log(`applying function file ${file.path}`);
      await applyFunctionFile(client, file);
      applied.push(file.path);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_catalog.pg_advisory_unlock($1, $2)', [...FUNCTION_FILES_LOCK]).catch(() => undefined);
  }
}

async function applyFunctionFile(client: Client, file: FunctionFile): Promise<void> {
  await client.query('BEGIN');
  try {
    try {
      // The file is ours and holds several statements: sent as one simple query, no parameters.
      await client.query(file.sql);
    } catch (error) {
      throw new MigrationRefusedError('failed', `functions/${file.path}`, errorCode(error));
    }
    await client.query(
      `INSERT INTO deploy.function_files (path, sha256) VALUES ($1, $2)
       ON CONFLICT (path) DO UPDATE SET sha256 = excluded.sha256, applied_at = pg_catalog.now()`,
      [file.path, file.sha256],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

export interface MigrateOptions {
  /** @default MIGRATIONS_DIR */
  readonly migrationsDir?: string;
  /** The function files; `false` applies the numbered migrations only. @default `functions` beside migrationsDir */
  readonly functionsDir?: string | false;
  readonly log?: (message: string) => void;
}

export interface AppliedMigrations {
  /** Numbered migration files applied by this run, in order. */
  readonly migrations: string[];
  /** Function files applied by this run (new or changed), as paths relative to the functions directory. */
  readonly functions: string[];
}

/** The numbered migrations, then the function files: what `npm run db -- migrate` and the migration function run. */
export async function migrateDatabase(client: Client, options: MigrateOptions = {}): Promise<AppliedMigrations> {
  const migrationsDir = options.migrationsDir ?? MIGRATIONS_DIR;
  const functionsDir = options.functionsDir ?? join(migrationsDir, '..', 'functions');
  const migrations = await applyNumberedMigrations(client, migrationsDir, options.log);
  const functions = functionsDir === false ? [] : await applyFunctionFiles(client, functionsDir, options.log);
  return { migrations, functions };
}

/**
 * Applies every pending migration in `dir` and then the function files beside it (`../functions`) on a connected
 * client; resolves to the numbered migration files it applied (migrateDatabase returns both lists).
 */
export async function applyMigrations(
  client: Client,
  dir: string = MIGRATIONS_DIR,
  log: (message: string) => void = () => undefined,
): Promise<string[]> {
  return (await migrateDatabase(client, { migrationsDir: dir, log })).migrations;
}
