#!/usr/bin/env -S npx tsx
// `npm run db -- <command> [--prod]`: the operator's database commands.
import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Client } from 'pg';
import { wrapArray } from './cli/json-query';
import { parseSecret } from '../lambdas/migrate/core';
import { isUserPoolId } from '../lambdas/cognito/ids';
import { errorCode, SQLSTATE } from '../lambdas/postgres/error-codes';
import { migrateDatabase } from '../lambdas/postgres/migrate';
import { authTokenGenerator } from '../lambdas/postgres/rds-token';
import { connectionOrLocalStack } from './cli/local-stack';
import { POSTGRES_PORT } from '../lib/constants';
import { awsClient, checkStage, stackName, stackOutput } from './cli/aws';
import {
  CliError,
  EXIT,
  connectionUrlFromEnv,
  connectionVariable,
  describeFailure,
  parseCommandLine,
  processOutput,
  runMain,
  type Output,
  helpExit,
} from './cli/common';
import { openClient, stageTarget, urlTarget, type DatabaseTarget } from './cli/postgres';
import { DEFAULT_LOCAL_PORT, openTunnel, parseLocalPort } from './cli/tunnel';

export { psqlEnvironment } from './cli/postgres';

const OPTIONS = {
  prod: { type: 'boolean', default: false },
  stage: { type: 'string' },
  'db-user': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  database: { type: 'string', default: 'cruddur' },
  yes: { type: 'boolean', default: false },
  force: { type: 'boolean', default: false },
  limit: { type: 'string' },
  'local-port': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const SQL_DIR = join(__dirname, '..', 'sql');
const MAINTENANCE_DATABASE = 'postgres';
const PROTECTED_DATABASES = new Set([MAINTENANCE_DATABASE, 'template0', 'template1', 'rdsadmin']);

export type Spawn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export interface DbDeps {
  readonly output?: Output;
  /** Starts psql for `connect`. @default node:child_process spawn */
  readonly spawn?: Spawn;
  /** How long to wait for a connection before calling the database unreachable. @default 5000 */
  readonly connectTimeoutMs?: number;
  /** For --stage: the stack outputs. @default a client from the standard chain */
  readonly cloudFormation?: CloudFormationClient;
  /** For --stage without --db-user: the master secret. @default a client from the standard chain */
  readonly secrets?: SecretsManagerClient;
  /** The authorities a --stage connection verifies against. @default the region's RDS CAs (tests pass their own) */
  readonly ca?: readonly string[];
}

interface Context {
  readonly target: DatabaseTarget;
  readonly output: Output;
  readonly connectTimeoutMs: number;
  readonly prod: boolean;
}

async function withClient<T>(context: Context, database: string, use: (client: Client) => Promise<T>): Promise<T> {
  const client = await openClient(context.target, { database, connectTimeoutMs: context.connectTimeoutMs });
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function onTarget<T>(context: Context, use: (client: Client) => Promise<T>): Promise<T> {
  return withClient(context, context.target.database, use);
}

/** create and drop cannot run inside the database they act on: they use the maintenance database. */
function onMaintenance<T>(context: Context, use: (client: Client) => Promise<T>): Promise<T> {
  const name = context.target.database;
  if (PROTECTED_DATABASES.has(name)) {
    throw new CliError(
      `the URL names the system database "${name}"; create and drop only act on an application database`,
      EXIT.USAGE,
    );
  }
  return withClient(context, MAINTENANCE_DATABASE, use);
}

function requireYes(context: Context, command: string, what: string, yes: boolean): void {
  if (context.prod && !yes) {
    throw new CliError(`${command} --prod ${what}; rerun with --yes if that is really what you want`, EXIT.REFUSED);
  }
}

async function create(context: Context): Promise<void> {
  const name = context.target.database;
  await onMaintenance(context, async (client) => {
    const { rows } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rows.length > 0) {
      context.output.out(`create: database "${name}" already exists; nothing to do`);
      return;
    }
    // CREATE DATABASE takes no parameters and cannot run inside a function (no transaction block): the name,
    // which comes from the URL, is quoted as an identifier by pg, never pasted raw.
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    context.output.out(`create: created database "${name}"`);
  });
}

interface SessionRow {
  pid: number;
  usename: string | null;
  application_name: string | null;
  client_addr: string | null;
  state: string | null;
}

const OTHER_SESSIONS = `
SELECT pid, usename, application_name, host(client_addr) AS client_addr, state
FROM pg_stat_activity
WHERE datname = $1 AND pid <> pg_backend_pid()
ORDER BY pid`;

function sessionLine(row: SessionRow): string {
  return `  pid ${row.pid}  user ${row.usename ?? '-'}  application ${row.application_name || '-'}  client ${row.client_addr ?? 'local socket'}  state ${row.state ?? '-'}`;
}

async function drop(context: Context, force: boolean): Promise<void> {
  const name = context.target.database;
  await onMaintenance(context, async (client) => {
    const { rows: exists } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.length === 0) {
      context.output.out(`drop: database "${name}" does not exist; nothing to do`);
      return;
    }
    if (force) {
      // WITH (FORCE) ends the sessions and drops in one statement, so a client that reconnects cannot slip
      // in between. Needs superuser, or on RDS rds_superuser / pg_signal_backend.
      const { rows } = await client.query<SessionRow>(OTHER_SESSIONS, [name]);
      if (rows.length > 0)
        context.output.err(
          `drop: ending ${rows.length} session(s) on "${name}": pid ${rows.map((row) => row.pid).join(', ')}`,
        );
    }
    try {
      // As in create: DROP DATABASE takes no parameters and cannot run inside a function (no transaction
      // block), so the name, which comes from the URL, is quoted as an identifier by pg, never pasted raw.
      await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)}${force ? ' WITH (FORCE)' : ''}`);
      context.output.out(`drop: dropped database "${name}"`);
    } catch (error) {
      if (errorCode(error) !== SQLSTATE.OBJECT_IN_USE) throw error;
      const { rows } = await client.query<SessionRow>(OTHER_SESSIONS, [name]);
      const lines = rows.length > 0 ? rows.map(sessionLine) : ['  (they closed while we looked; run drop again)'];
      throw new CliError(
        [
          `database "${name}" has ${rows.length} open session(s):`,
          ...lines,
          'close them, or rerun with --force to end them and drop',
        ].join('\n'),
        EXIT.BUSY,
      );
    }
  });
}

async function migrate(context: Context): Promise<void> {
  await onTarget(context, async (client) => {
    const { migrations, functions } = await migrateDatabase(client);
    if (migrations.length === 0 && functions.length === 0) context.output.out('migrate: already up to date');
    if (migrations.length > 0) context.output.out(`migrate: applied ${migrations.join(', ')}`);
    if (functions.length > 0) context.output.out(`migrate: applied function files ${functions.join(', ')}`);
  });
}

async function seed(context: Context): Promise<void> {
  const sql = readFileSync(join(SQL_DIR, 'seed.sql'), 'utf8');
  await onTarget(context, async (client) => {
    // One transaction: the seed lands whole or not at all.
    await client.query('BEGIN');
    try {
      await client.query(sql);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (errorCode(error) === SQLSTATE.UNDEFINED_TABLE) {
        throw new CliError(`the tables do not exist yet; run \`npm run db -- migrate\` first`, EXIT.FAILURE);
      }
      throw error;
    }
    const { rows } = await client.query<{ users: string; activities: string }>(
      'SELECT (SELECT count(*) FROM public.users) AS users, (SELECT count(*) FROM public.activities) AS activities',
    );
    context.output.out(`seed: loaded sql/seed.sql (now ${rows[0]?.users} users, ${rows[0]?.activities} activities)`);
  });
}

async function connect(context: Context, env: NodeJS.ProcessEnv, args: string[], spawn: Spawn): Promise<number> {
  const session = await context.target.psql(env);
  try {
    return await runPsql(spawn, args, session.env);
  } finally {
    // The CA file and the password file live only as long as psql.
    await session.cleanup();
  }
}

async function runPsql(spawn: Spawn, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const child = spawn('psql', args, { stdio: 'inherit', env });
  // Ctrl-C belongs to psql (it cancels the running query); it must not end us and orphan psql.
  const ignore = () => undefined;
  process.on('SIGINT', ignore);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') {
          reject(
            new CliError(
              'psql is not installed or not on PATH; install the PostgreSQL client (apt-get install postgresql-client, brew install libpq) and retry',
              EXIT.NOT_FOUND,
            ),
          );
        } else reject(error);
      });
      child.once('exit', (code) => resolve(code ?? EXIT.FAILURE));
    });
  } finally {
    process.off('SIGINT', ignore);
  }
}

function column(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  // pg gives objects only for json and timestamp columns, which the session list has none of.
  return value instanceof Date ? value.toISOString() : JSON.stringify(value);
}

/** A plain aligned table, readable without psql. */
export function formatTable(rows: Record<string, unknown>[], columns: string[]): string[] {
  const widths = columns.map((name) => Math.max(name.length, ...rows.map((row) => column(row[name]).length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, index) => cell.padEnd(widths[index] ?? 0))
      .join('  ')
      .trimEnd();
  return [
    line(columns),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.map((row) => line(columns.map((name) => column(row[name])))),
  ];
}

const SESSIONS_COLUMNS = ['process_id', 'user', 'db', 'client_addr', 'app', 'state'];

async function sessions(context: Context): Promise<void> {
  const sql = readFileSync(join(SQL_DIR, 'queries', 'sessions.sql'), 'utf8');
  await onTarget(context, async (client) => {
    const { rows } = await client.query<Record<string, unknown>>(sql);
    for (const line of formatTable(rows, SESSIONS_COLUMNS)) context.output.out(line);
    context.output.out(`(${rows.length} session${rows.length === 1 ? '' : 's'})`);
  });
}

function parseLimit(value: string | undefined): number {
  if (value === undefined) return 20;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1000) {
    throw new CliError(
      `--limit must be a whole number from 1 to 1000, got ${JSON.stringify(value.slice(0, 20))}`,
      EXIT.USAGE,
    );
  }
  return Number(value);
}

async function feed(context: Context, limit: number): Promise<void> {
  const sql = readFileSync(join(SQL_DIR, 'queries', 'home_activities.sql'), 'utf8');
  await onTarget(context, async (client) => {
    const activities = await wrapArray(client, sql, [limit]);
    context.output.out(JSON.stringify(activities, null, 2));
  });
}

/**
 * The operator's step after the user pool was replaced: sync.adopt_pool binds the database to the new pool, so
 * the reconcile (which refuses any pool but the bound one) may read it. Run as the owner: no function role may.
 */
async function adoptPool(context: Context, args: readonly string[], yes: boolean): Promise<void> {
  const [poolId] = args;
  if (args.length !== 1 || poolId === undefined || !isUserPoolId(poolId))
    throw new CliError('adopt-pool takes one user pool id, like us-east-1_AbCdEf123', EXIT.USAGE);
  requireYes(context, 'adopt-pool', 'binds the production database to another user pool', yes);
  await onTarget(context, async (client) => {
    const { rows } = await client.query<{ previous: string | null }>('SELECT sync.adopt_pool($1) AS previous', [
      poolId,
    ]);
    context.output.out(`adopt-pool: ${rows[0]?.previous ?? '(none)'} -> ${poolId}`);
  });
}

interface Invocation {
  readonly context: Context;
  readonly yes: boolean;
  readonly force: boolean;
  readonly limit: number;
  /** Arguments after the command: `connect`'s go to psql, `adopt-pool`'s is the pool id. */
  readonly args: string[];
  readonly env: NodeJS.ProcessEnv;
  readonly spawn: Spawn;
}

/** What a command that opens no database connection of its own gets (`tunnel`). */
interface StandaloneInvocation {
  readonly values: ParsedValues;
  readonly env: NodeJS.ProcessEnv;
  readonly deps: DbDeps;
  readonly output: Output;
}

/** A command that finds its own way to the database rather than connecting: `tunnel`. */
interface StandaloneCommand {
  readonly summary: string;
  readonly standalone: true;
  run(invocation: StandaloneInvocation): Promise<number>;
}

interface DatabaseCommand {
  readonly standalone?: false;
  /** Its line in the usage text. */
  readonly summary: string;
  /** Arguments after the command are passed on rather than refused. @default false */
  readonly takesArguments?: boolean;
  /** Only the database owner can do it: with --stage and no --db-user, the master secret is read. @default false */
  readonly needsOwner?: boolean;
  /** Runs the command; resolves to the exit code. */
  run(invocation: Invocation): Promise<number>;
}

type Command = DatabaseCommand | StandaloneCommand;

/** A command that succeeds (exit 0) or throws; only `connect` has an exit code of its own (psql's). */
function succeeds(work: (invocation: Invocation) => Promise<void>): DatabaseCommand['run'] {
  return async (invocation) => {
    await work(invocation);
    return EXIT.OK;
  };
}

/** Every command, once: the usage text, the list of known names and the dispatch all come from here. */
const COMMANDS: Readonly<Record<string, Command>> = {
  create: {
    needsOwner: true,
    summary: 'create the database named in the URL',
    run: succeeds(({ context }) => create(context)),
  },
  drop: {
    needsOwner: true,
    summary: 'drop it (--force ends its open sessions first)',
    run: succeeds(async ({ context, yes, force }) => {
      requireYes(context, 'drop', 'drops the production database', yes);
      await drop(context, force);
    }),
  },
  migrate: {
    needsOwner: true,
    summary: 'apply pending sql/migrations, then new or changed sql/functions (never destructive)',
    run: succeeds(({ context }) => migrate(context)),
  },
  seed: {
    needsOwner: true,
    summary: 'load sql/seed.sql (idempotent)',
    run: succeeds(async ({ context, yes }) => {
      requireYes(context, 'seed', 'writes the mock users and activities into production', yes);
      await seed(context);
    }),
  },
  setup: {
    needsOwner: true,
    summary: 'drop, create, migrate, seed (--prod needs --yes)',
    run: succeeds(async ({ context, yes, force }) => {
      requireYes(context, 'setup', 'drops and recreates the production database', yes);
      await drop(context, force);
      await create(context);
      await migrate(context);
      await seed(context);
    }),
  },
  connect: {
    summary: 'open psql on the database (arguments after -- go to psql)',
    takesArguments: true,
    run: ({ context, env, args, spawn }) => connect(context, env, args, spawn),
  },
  sessions: {
    summary: 'list the sessions open on the server',
    run: succeeds(({ context }) => sessions(context)),
  },
  feed: {
    summary: 'print the home feed as JSON (--limit N, default 20)',
    run: succeeds(({ context, limit }) => feed(context, limit)),
  },
  'adopt-pool': {
    needsOwner: true,
    takesArguments: true,
    summary: 'keep the database in step with this user pool from now on (after the pool was replaced)',
    run: succeeds(({ context, args, yes }) => adoptPool(context, args, yes)),
  },
  tunnel: {
    standalone: true,
    summary: `forward 127.0.0.1:--local-port (default ${DEFAULT_LOCAL_PORT}) to --stage's database (needs -c operatorAccess=true)`,
    run: ({ values, env, deps, output }) => tunnel(values, env, deps, output),
  },
};

export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

const NAME_WIDTH = Math.max(...COMMAND_NAMES.map((name) => name.length)) + 3;

export const USAGE = [
  'usage: npm run db -- <command> [--prod | --stage dev|prod [--db-user NAME] [--host IP] [--port N] [--database cruddur]] [--yes]',
  '       npm run db -- tunnel --stage dev|prod [--local-port 15432]',
  ...Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(NAME_WIDTH)}${command.summary}`),
].join('\n');

function commandNamed(name: string): Command | undefined {
  return Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
}

interface TargetFlags {
  readonly prod: boolean;
  readonly stage?: string | undefined;
  readonly 'db-user'?: string | undefined;
  readonly host?: string | undefined;
  readonly port?: string | undefined;
  readonly database: string;
}

const DB_USER = /^[a-z_][a-z0-9_]{0,62}$/;
const DATABASE_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,62}$/;

function parsePort(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
    throw new CliError(`--port must be a TCP port, got ${JSON.stringify(value.slice(0, 20))}`, EXIT.USAGE);
  }
  return Number(value);
}

/**
 * The URL in CONNECTION_URL (PROD_CONNECTION_URL with --prod), or with --stage the deployed database: the
 * endpoint and secret from the stack outputs, an IAM token for --db-user, or the master secret for the owner's
 * commands. Nothing here prints or passes on a password.
 */
async function targetFor(
  values: TargetFlags,
  command: DatabaseCommand,
  env: NodeJS.ProcessEnv,
  deps: DbDeps,
): Promise<DatabaseTarget> {
  if (values.stage === undefined) {
    if (values['db-user'] !== undefined || values.host !== undefined || values.port !== undefined) {
      throw new CliError(
        '--db-user, --host and --port go with --stage; a URL carries its own user, host and port',
        EXIT.USAGE,
      );
    }
    if (values.prod)
      return urlTarget(connectionUrlFromEnv(env, true), { prod: true, variable: connectionVariable(true) });
    // CONNECTION_URL, or the database of the local stack `npm start` runs (its stack.json).
    const { connection, local } = await connectionOrLocalStack(env);
    const target = urlTarget(connection, { prod: false, variable: 'CONNECTION_URL' });
    return local === undefined
      ? target
      : { ...target, local: true, label: `the local stack's database (${connection.redacted}, from ${local.file})` };
  }
  if (values.prod)
    throw new CliError('--prod picks PROD_CONNECTION_URL; with --stage, say --stage prod instead', EXIT.USAGE);
  const stage = checkStage(values.stage);
  const dbUser = values['db-user'];
  if (dbUser !== undefined && !DB_USER.test(dbUser))
    throw new CliError(
      `--db-user must be a PostgreSQL role name, got ${JSON.stringify(dbUser.slice(0, 70))}`,
      EXIT.USAGE,
    );
  if (!DATABASE_NAME.test(values.database))
    throw new CliError(
      `--database must be a database name, got ${JSON.stringify(values.database.slice(0, 70))}`,
      EXIT.USAGE,
    );
  if (dbUser === undefined && command.needsOwner !== true) {
    throw new CliError(
      `--stage needs --db-user NAME (an IAM-enabled database user) for this command; the master secret is used only for create, drop, migrate, seed and setup`,
      EXIT.USAGE,
    );
  }
  const port = parsePort(values.port);
  const cloudFormation = deps.cloudFormation ?? awsClient(CloudFormationClient);
  const stack = stackName(stage, 'Database');
  const endpoint = await stackOutput(cloudFormation, stack, 'DatabaseEndpoint', '--stage of a deployed stack');
  const region = await cloudFormation.config.region();
  const credentials =
    dbUser !== undefined
      ? {
          kind: 'iam' as const,
          user: dbUser,
          // Signed for the endpoint and its real port, whatever tunnel the bytes take; the standard chain's credentials.
          token: authTokenGenerator({
            hostname: endpoint,
            port: POSTGRES_PORT,
            username: dbUser,
            region,
            credentials: cloudFormation.config.credentials,
          }),
        }
      : {
          kind: 'master' as const,
          read: async () => {
            const secretArn = await stackOutput(cloudFormation, stack, 'DatabaseSecretArn', '--db-user NAME');
            const secrets = deps.secrets ?? awsClient(SecretsManagerClient);
            const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
            return parseSecret(SecretString);
          },
        };
  return stageTarget({
    stage,
    endpoint,
    database: values.database,
    region,
    credentials,
    ...(values.host === undefined ? {} : { host: values.host }),
    ...(port === undefined ? {} : { port }),
    ...(deps.ca === undefined ? {} : { ca: deps.ca }),
  });
}

type ParsedValues = ReturnType<typeof parseCommandLine<typeof OPTIONS>>['values'];

/** The operator host's port forward (bin/cli/tunnel.ts): no database connection here, so no target. */
async function tunnel(values: ParsedValues, env: NodeJS.ProcessEnv, deps: DbDeps, output: Output): Promise<number> {
  if (values.stage === undefined)
    throw new CliError('tunnel needs --stage dev|prod: a URL is reached directly, not through a tunnel', EXIT.USAGE);
  if (values.prod)
    throw new CliError('--prod picks PROD_CONNECTION_URL; with tunnel, say --stage prod instead', EXIT.USAGE);
  if (values['db-user'] !== undefined || values.host !== undefined || values.port !== undefined) {
    throw new CliError(
      'tunnel takes --stage and --local-port only; --db-user, --host and --port go with the command you run through it',
      EXIT.USAGE,
    );
  }
  return openTunnel({
    stage: checkStage(values.stage),
    localPort: parseLocalPort(values['local-port']),
    env,
    cloudFormation: deps.cloudFormation ?? awsClient(CloudFormationClient),
    spawn: deps.spawn ?? nodeSpawn,
    output,
  });
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, deps: DbDeps = {}): Promise<number> {
  const output = deps.output ?? processOutput;
  try {
    const { values, positionals } = parseCommandLine(argv, OPTIONS, USAGE);
    const [name, ...args] = positionals;
    const help = helpExit(values, USAGE, output);
    if (help !== undefined) return help;
    if (name === undefined) throw new CliError(`no command given\n${USAGE}`, EXIT.USAGE);
    const command = commandNamed(name);
    if (command === undefined)
      throw new CliError(`unknown command ${JSON.stringify(name.slice(0, 40))}\n${USAGE}`, EXIT.USAGE);
    if (args.length > 0 && (command.standalone === true || command.takesArguments !== true)) {
      throw new CliError(`${name} takes no arguments, got ${args.length}\n${USAGE}`, EXIT.USAGE);
    }
    if (command.standalone === true) return await command.run({ values, env, deps, output });
    if (values['local-port'] !== undefined) throw new CliError(`--local-port goes with tunnel\n${USAGE}`, EXIT.USAGE);
    // A malformed --limit is a usage error whatever the command, and before any connection is tried.
    const limit = parseLimit(values.limit);
    const target = await targetFor(values, command, env, deps);
    const context: Context = { target, output, connectTimeoutMs: deps.connectTimeoutMs ?? 5000, prod: target.prod };
    if (target.prod || target.local === true) output.err(`db: using ${target.label}`);
    return await command.run({
      context,
      yes: values.yes,
      force: values.force,
      limit,
      args,
      env,
      spawn: deps.spawn ?? nodeSpawn,
    });
  } catch (error) {
    const { message, exitCode } = describeFailure(error);
    output.err(`db: ${message}`);
    return exitCode;
  }
}

if (require.main === module) runMain('db', () => main(process.argv.slice(2)));
