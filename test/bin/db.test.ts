import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, escapeIdentifier } from 'pg';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/common';
import { COMMAND_NAMES, main, USAGE } from '../../bin/db';
import { captureOutput } from '../support/output';
import { adminQuery, freePort, startTestServer, type TestServer } from '../support/postgres';
import { startTlsServer, type TlsTestServer } from '../support/tls-postgres';

let server: TestServer;
let scratch: string;
let counter = 0;

beforeAll(async () => {
  server = await startTestServer();
  scratch = await mkdtemp(join(tmpdir(), 'cruddur-db-cli-'));
});

afterAll(async () => {
  await server?.destroy();
  await rm(scratch, { recursive: true, force: true });
});

/** A fresh database name per test, so tests never see each other's databases. */
function freshName(): string {
  counter += 1;
  return `cli_test_${counter}`;
}

function envFor(database: string): NodeJS.ProcessEnv {
  return { CONNECTION_URL: server.url(database) };
}

async function run(argv: string[], env: NodeJS.ProcessEnv, deps: Parameters<typeof main>[2] = {}) {
  const captured = captureOutput();
  const code = await main(argv, env, { output: captured.output, connectTimeoutMs: 2000, ...deps });
  return { code, ...captured };
}

/** Creates a database behind the command's back, so drop and sessions tests do not depend on create. */
async function createDatabase(name: string): Promise<void> {
  await adminQuery(server.url(), 'CREATE DATABASE ' + escapeIdentifier(name));
}

async function databaseExists(name: string): Promise<boolean> {
  const client = new Client({ connectionString: server.url() });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return rows.length === 1;
  } finally {
    await client.end();
  }
}

async function queryOn<T extends Record<string, unknown>>(database: string, text: string): Promise<T[]> {
  const client = new Client({ connectionString: server.url(database) });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

/** Opens a session on the database and keeps it open, as a forgotten psql or the local stack would. */
async function holdSession(database: string, applicationName: string): Promise<Client> {
  const client = new Client({ connectionString: server.url(database), application_name: applicationName });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

describe('db create and drop', () => {
  it('creates the database named in the URL, and says so when it already exists', async () => {
    const name = freshName();
    const first = await run(['create'], envFor(name));
    expect(first.code).toBe(EXIT.OK);
    expect(await databaseExists(name)).toBe(true);
    const second = await run(['create'], envFor(name));
    expect(second.code).toBe(EXIT.OK);
    expect(second.out.join('\n')).toMatch(/already exists/);
  });

  it('quotes a database name that needs quoting instead of pasting it into the SQL', async () => {
    const name = 'Cli Test "quoted"; DROP';
    const created = await run(['create'], envFor(name));
    expect(created.code).toBe(EXIT.OK);
    expect(await databaseExists(name)).toBe(true);
    expect((await run(['drop'], envFor(name))).code).toBe(EXIT.OK);
    expect(await databaseExists(name)).toBe(false);
  });

  it('names the open sessions when they block drop, and keeps the database', async () => {
    const name = freshName();
    await createDatabase(name);
    const held = await holdSession(name, 'held-by-test');
    try {
      const pid = (await held.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      const result = await run(['drop'], envFor(name));
      expect(result.code).toBe(EXIT.BUSY);
      const message = result.err.join('\n');
      expect(message).toContain(`pid ${pid}`);
      expect(message).toContain('user postgres');
      expect(message).toContain('application held-by-test');
      expect(message).toContain('client 127.0.0.1');
      expect(message).toContain('state idle');
      expect(message).toContain('--force');
      expect(await databaseExists(name)).toBe(true);
    } finally {
      await held.end().catch(() => undefined);
    }
  });

  it('ends the open sessions and drops with --force', async () => {
    const name = freshName();
    await createDatabase(name);
    const held = await holdSession(name, 'held-by-test');
    const result = await run(['drop', '--force'], envFor(name));
    expect(result.code).toBe(EXIT.OK);
    expect(result.err.join('\n')).toMatch(/ending 1 session/);
    expect(await databaseExists(name)).toBe(false);
    await expect(held.query('SELECT 1')).rejects.toThrow();
  });

  it('says there is nothing to do when the database does not exist', async () => {
    const result = await run(['drop'], envFor(freshName()));
    expect(result.code).toBe(EXIT.OK);
    expect(result.out.join('\n')).toMatch(/does not exist; nothing to do/);
  });

  it('refuses to drop the maintenance database', async () => {
    const result = await run(['drop'], envFor('postgres'));
    expect(result.code).toBe(EXIT.USAGE);
    expect(result.err.join('\n')).toMatch(/system database "postgres"/);
    expect(await databaseExists('postgres')).toBe(true);
  });
});

describe('db migrate, seed and setup', () => {
  it('migrates once, then reports it is up to date', async () => {
    const name = freshName();
    await run(['create'], envFor(name));
    const first = await run(['migrate'], envFor(name));
    expect(first.code).toBe(EXIT.OK);
    expect(first.out.join('\n')).toContain('0001_create_users_and_activities.sql');
    const second = await run(['migrate'], envFor(name));
    expect(second.out).toEqual(['migrate: already up to date']);
  });

  it('seeds twice and ends with the same rows', async () => {
    const name = freshName();
    await run(['create'], envFor(name));
    await run(['migrate'], envFor(name));
    expect((await run(['seed'], envFor(name))).code).toBe(EXIT.OK);
    const again = await run(['seed'], envFor(name));
    expect(again.code).toBe(EXIT.OK);
    expect(again.out.join('\n')).toMatch(/now 2 users, 1 activities/);
    const users = await queryOn<{ cognito_user_id: string }>(
      name,
      'SELECT cognito_user_id FROM public.users ORDER BY 1',
    );
    expect(users.map((row) => row.cognito_user_id)).toEqual(['MOCK-andrewbrown', 'MOCK-bayko']);
  });

  it('tells the operator to migrate first when seeding an empty database', async () => {
    const name = freshName();
    await run(['create'], envFor(name));
    const result = await run(['seed'], envFor(name));
    expect(result.code).toBe(EXIT.FAILURE);
    expect(result.err.join('\n')).toMatch(/migrate` first/);
  });

  it('rebuilds a database from scratch with setup, dropping what was there', async () => {
    const name = freshName();
    expect((await run(['setup'], envFor(name))).code).toBe(EXIT.OK);
    await adminQuery(server.url(name), "INSERT INTO public.users (cognito_user_id) VALUES ('extra-user')");
    const held = await holdSession(name, 'held-by-test');
    const again = await run(['setup', '--force'], envFor(name));
    await held.end().catch(() => undefined);
    expect(again.code).toBe(EXIT.OK);
    const users = await queryOn<{ cognito_user_id: string }>(
      name,
      'SELECT cognito_user_id FROM public.users ORDER BY 1',
    );
    expect(users.map((row) => row.cognito_user_id)).toEqual(['MOCK-andrewbrown', 'MOCK-bayko']);
  });

  it('refuses setup --prod without --yes and touches nothing', async () => {
    const name = freshName();
    await createDatabase(name);
    const env = { PROD_CONNECTION_URL: server.url(name) };
    const result = await run(['setup', '--prod'], env);
    expect(result.code).toBe(EXIT.REFUSED);
    expect(result.err.join('\n')).toMatch(/--yes/);
    expect(await queryOn(name, "SELECT 1 FROM pg_tables WHERE tablename = 'users'")).toEqual([]);
    expect(await databaseExists(name)).toBe(true);
  });

  it.each([['drop'], ['seed']])('refuses %s --prod without --yes', async (command) => {
    const name = freshName();
    await run(['setup'], envFor(name));
    const result = await run([command, '--prod'], { PROD_CONNECTION_URL: server.url(name) });
    expect(result.code).toBe(EXIT.REFUSED);
    expect(await databaseExists(name)).toBe(true);
  });

  it('runs setup --prod --yes against PROD_CONNECTION_URL and never prints its password', async () => {
    const name = freshName();
    const env = { PROD_CONNECTION_URL: server.url(name), CONNECTION_URL: 'postgres://wrong:wrong@127.0.0.1:1/nothing' };
    const result = await run(['setup', '--prod', '--yes'], env);
    expect(result.code).toBe(EXIT.OK);
    expect(result.err.join('\n')).toContain(`postgres://postgres:***@127.0.0.1:${server.port}/${name}`);
    expect(result.all()).not.toContain(':postgres@');
    expect(await queryOn(name, 'SELECT count(*)::int AS n FROM public.users')).toEqual([{ n: 2 }]);
  });
});

describe('db adopt-pool', () => {
  it('binds the database to the new pool, says old -> new, and the reconciler then meets only the new one', async () => {
    const name = freshName();
    await run(['create'], envFor(name));
    await run(['migrate'], envFor(name));
    await queryOn(name, "SELECT sync.bind_pool('us-east-1_OldPool1')");
    const adopted = await run(['adopt-pool', 'us-east-1_NewPool2'], envFor(name));
    expect(adopted.code).toBe(EXIT.OK);
    expect(adopted.out).toEqual(['adopt-pool: us-east-1_OldPool1 -> us-east-1_NewPool2']);
    expect(await queryOn(name, 'SELECT user_pool_id FROM sync.pool_binding')).toEqual([
      { user_pool_id: 'us-east-1_NewPool2' },
    ]);
    expect(await queryOn(name, "SELECT sync.bind_pool('us-east-1_NewPool2') AS outcome")).toEqual([
      { outcome: 'same' },
    ]);
  });

  it('says (none) for a database never bound', async () => {
    const name = freshName();
    await run(['create'], envFor(name));
    await run(['migrate'], envFor(name));
    expect((await run(['adopt-pool', 'us-east-1_NewPool2'], envFor(name))).out).toEqual([
      'adopt-pool: (none) -> us-east-1_NewPool2',
    ]);
  });

  it('refuses anything but one pool id, and production without --yes', async () => {
    for (const args of [[], ['pool; drop'], ['us-east-1_A1', 'us-east-1_B2']]) {
      const result = await run(['adopt-pool', ...args], envFor('postgres'));
      expect(result.code).toBe(EXIT.USAGE);
    }
    const prod = await run(['adopt-pool', 'us-east-1_NewPool2', '--prod'], {
      PROD_CONNECTION_URL: server.url('postgres'),
    });
    expect(prod.code).toBe(EXIT.REFUSED);
    expect(prod.err.at(-1)).toMatch(
      /adopt-pool --prod binds the production database to another user pool; rerun with --yes/,
    );
  });
});

describe('db sessions and feed', () => {
  it('lists the open sessions with their pid, user, database, client, application and state', async () => {
    const name = freshName();
    await createDatabase(name);
    const held = await holdSession(name, 'listed-by-test');
    try {
      const pid = (await held.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      const result = await run(['sessions'], envFor(name));
      expect(result.code).toBe(EXIT.OK);
      expect(result.out[0]).toMatch(/^process_id\s+user\s+db\s+client_addr\s+app\s+state$/);
      const line = result.out.find((row) => row.includes('listed-by-test'));
      expect(line?.split(/\s+/)).toEqual([String(pid), 'postgres', name, '127.0.0.1', 'listed-by-test', 'idle']);
    } finally {
      await held.end();
    }
  });

  it('prints the home feed as JSON built by Postgres, newest first', async () => {
    const name = freshName();
    await run(['setup'], envFor(name));
    await adminQuery(
      server.url(name),
      `INSERT INTO public.activities (user_uuid, message, created_at, likes_count)
       SELECT uuid, 'a newer one', now() + interval '1 minute', 3 FROM public.users WHERE handle = 'bayko'`,
    );
    const result = await run(['feed'], envFor(name));
    expect(result.code).toBe(EXIT.OK);
    const feed = JSON.parse(result.out.join('\n')) as Record<string, unknown>[];
    expect(feed).toHaveLength(2);
    expect(Object.keys(feed[0] ?? {})).toEqual([
      'uuid',
      'handle',
      'display_name',
      'message',
      'replies_count',
      'reposts_count',
      'likes_count',
      'reply_to_activity_uuid',
      'expires_at',
      'created_at',
    ]);
    expect(feed.map((activity) => [activity.handle, activity.message, activity.likes_count])).toEqual([
      ['bayko', 'a newer one', 3],
      ['andrewbrown', 'This was imported as seed data!', 0],
    ]);
    expect(feed[1]).toMatchObject({
      uuid: '3c1e2a7b-5d4f-4e6a-8b9c-0d1e2f3a0001',
      display_name: 'Andrew Brown',
      reply_to_activity_uuid: null,
    });
    expect(String(feed[1]?.created_at)).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });

  it('prints an empty array for an empty feed and honours --limit', async () => {
    const name = freshName();
    await run(['create'], envFor(name));
    await run(['migrate'], envFor(name));
    expect(JSON.parse((await run(['feed'], envFor(name))).out.join('\n'))).toEqual([]);
    await run(['seed'], envFor(name));
    await adminQuery(
      server.url(name),
      "INSERT INTO public.activities (user_uuid, message) SELECT uuid, 'second' FROM public.users WHERE handle = 'bayko'",
    );
    expect(JSON.parse((await run(['feed', '--limit', '1'], envFor(name))).out.join('\n'))).toHaveLength(1);
    expect((await run(['feed', '--limit', '0'], envFor(name))).code).toBe(EXIT.USAGE);
  });
});

describe('db connect', () => {
  async function fakePsql(exitCode: number): Promise<{ dir: string; record: string }> {
    const dir = await mkdtemp(join(scratch, 'bin-'));
    const record = join(dir, 'record.txt');
    const script = `#!/bin/sh\nPATH=/usr/bin:/bin\n{ echo "ARGS $*"; env | grep -E '^(PG|CONNECTION_URL|PROD_CONNECTION_URL)' | sort; } > "${record}"\nexit ${exitCode}\n`;
    await writeFile(join(dir, 'psql'), script);
    await chmod(join(dir, 'psql'), 0o755);
    return { dir, record };
  }

  it('runs psql with the URL in PG* variables, keeps the password out of argv, and returns its exit code', async () => {
    const { dir, record } = await fakePsql(3);
    const url = 'postgres://ops%20user:p%40ss-word@db.example.internal:6543/cruddur?sslmode=verify-full';
    const result = await run(['connect', '--', '-c', 'select 1'], { PATH: dir, CONNECTION_URL: url });
    expect(result.code).toBe(3);
    const lines = (await readFile(record, 'utf8')).trim().split('\n');
    expect(lines).toEqual([
      'ARGS -c select 1',
      'PGAPPNAME=cruddur-ops psql',
      'PGDATABASE=cruddur',
      'PGHOST=db.example.internal',
      'PGPASSWORD=p@ss-word',
      'PGPORT=6543',
      'PGSSLMODE=verify-full',
      expect.stringMatching(/^PGSSLROOTCERT=\/.*rds-ca\.pem$/) as unknown as string,
      'PGUSER=ops user',
    ]);
  });

  it('gives psql verify-full and a private file of the RDS CAs for a URL that asks for TLS, and removes the file after', async () => {
    const { dir, record } = await fakePsql(0);
    const url = 'postgres://ops:pw@db.example.internal:5432/cruddur?sslmode=require';
    await run(['connect'], { PATH: dir, CONNECTION_URL: url });
    const caLine = (await readFile(record, 'utf8')).split('\n').find((line) => line.startsWith('PGSSLROOTCERT='));
    expect((await readFile(record, 'utf8')).split('\n')).toContain('PGSSLMODE=verify-full');
    expect(caLine).toBeDefined();
    expect(existsSync(caLine?.slice('PGSSLROOTCERT='.length) ?? '')).toBe(false);
  });

  it('says psql is missing when it is not installed', async () => {
    const empty = await mkdtemp(join(scratch, 'empty-'));
    const result = await run(['connect'], { PATH: empty, CONNECTION_URL: server.url() });
    expect(result.code).toBe(EXIT.NOT_FOUND);
    expect(result.err.join('\n')).toMatch(/psql is not installed/);
  });

  const hasPsql = spawnSync('psql', ['--version']).status === 0;
  it.skipIf(!hasPsql)('reaches the database through the real psql when it is installed', async () => {
    const name = freshName();
    await run(['setup'], envFor(name));
    let stdout = '';
    const piped = (command: string, args: readonly string[], options: SpawnOptions) => {
      const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'inherit'] });
      child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      return child;
    };
    const result = await run(
      ['connect', '--', '-tAc', 'SELECT count(*) FROM public.users'],
      { ...process.env, ...envFor(name) },
      { spawn: piped },
    );
    expect(result.code).toBe(0);
    expect(stdout.trim()).toBe('2');
  });
});

/** A stack.json as `npm start` writes it, in a data directory of its own. */
async function localStackDir(connectionUrl: string): Promise<string> {
  const dir = await mkdtemp(join(scratch, 'local-'));
  const info = {
    connectionUrl,
    cognitoEndpoint: 'http://127.0.0.1:9',
    userPoolId: 'local_Pool1',
    userPoolClientId: 'client1',
    lambdaEndpoint: 'http://127.0.0.1:9',
    functionName: 'PostConfirmationFunction',
    region: 'us-east-1',
    dataDir: dir,
    cognitoLogFile: join(dir, 'cognito.log'),
  };
  await writeFile(join(dir, 'stack.json'), JSON.stringify(info));
  return dir;
}

describe('db with the local stack', () => {
  it('finds the running local stack through LOCAL_DATA_DIR when CONNECTION_URL is not set', async () => {
    const name = freshName();
    await createDatabase(name);
    const held = await holdSession(name, 'seen-through-stack-json');
    try {
      const dir = await localStackDir(server.url(name));
      const result = await run(['sessions'], { LOCAL_DATA_DIR: dir, CONNECTION_URL: '' });
      expect(result.code).toBe(EXIT.OK);
      expect(result.out.some((line) => line.includes('seen-through-stack-json'))).toBe(true);
      expect(result.err).toEqual([expect.stringMatching(/^db: using the local stack's database \(.*stack\.json\)$/)]);
      expect(result.all()).not.toContain(':postgres@');
    } finally {
      await held.end();
    }
  });

  it('prefers CONNECTION_URL over the local stack', async () => {
    const name = freshName();
    await createDatabase(name);
    const dir = await localStackDir('postgres://postgres:postgres@127.0.0.1:9/nowhere');
    const result = await run(['sessions'], { ...envFor(name), LOCAL_DATA_DIR: dir });
    expect(result.code).toBe(EXIT.OK);
    expect(result.err).toEqual([]);
  });

  it('names the local stack and asks whether npm start runs when its database does not answer', async () => {
    const dir = await localStackDir(`postgres://postgres:postgres@127.0.0.1:${await freePort()}/cruddur`);
    const result = await run(['sessions'], { LOCAL_DATA_DIR: dir });
    expect(result.code).toBe(EXIT.UNAVAILABLE);
    expect(result.err.at(-1)).toMatch(/^db: cannot reach the local stack's database .*is npm start running\?$/);
  });
});

describe('db errors', () => {
  it('names the missing variable and the local stack it looked for', async () => {
    const empty = await mkdtemp(join(scratch, 'no-stack-'));
    const result = await run(['migrate'], { LOCAL_DATA_DIR: empty });
    expect(result.code).toBe(EXIT.CONFIG);
    expect(result.err).toEqual([
      `db: CONNECTION_URL is not set and no local stack was found (no ${join(empty, 'stack.json')}): start one with npm start, or set CONNECTION_URL`,
    ]);
    const prod = await run(['migrate', '--prod'], { CONNECTION_URL: server.url() });
    expect(prod.err).toEqual(['db: Configuration error: PROD_CONNECTION_URL is not set']);
  });

  it('rejects a malformed URL without printing it', async () => {
    const result = await run(['migrate'], { CONNECTION_URL: 'postgres://ops:s3cret-pw@db.example:notaport/cruddur' });
    expect(result.code).toBe(EXIT.CONFIG);
    expect(result.err.join('\n')).toMatch(/CONNECTION_URL is not a valid URL/);
    expect(result.all()).not.toContain('s3cret-pw');
  });

  it('rejects a URL that names no database or is not postgres', async () => {
    expect((await run(['migrate'], { CONNECTION_URL: 'postgres://ops:pw@db.example:5432/' })).err.join('\n')).toMatch(
      /names no database/,
    );
    expect((await run(['migrate'], { CONNECTION_URL: 'mysql://ops:pw@db.example/cruddur' })).err.join('\n')).toMatch(
      /must start with postgres:\/\//,
    );
  });

  it('reports an unreachable database in one line, with the password redacted', async () => {
    const port = await freePort();
    const result = await run(['migrate'], { CONNECTION_URL: `postgres://ops:s3cret-pw@127.0.0.1:${port}/cruddur` });
    expect(result.code).toBe(EXIT.UNAVAILABLE);
    expect(result.err).toHaveLength(1);
    expect(result.err[0]).toContain(`cannot reach postgres://ops:***@127.0.0.1:${port}/cruddur`);
    expect(result.all()).not.toContain('s3cret-pw');
  });

  it('reports refused credentials without printing them', async () => {
    const result = await run(['sessions'], {
      CONNECTION_URL: `postgres://postgres:not-the-password@127.0.0.1:${server.port}/postgres`,
    });
    expect(result.code).toBe(EXIT.CONFIG);
    expect(result.err.join('\n')).toMatch(/refused the credentials/);
    expect(result.all()).not.toContain('not-the-password');
  });

  it('names every command of the table in the usage, one line each, and prints it for --help', async () => {
    expect(COMMAND_NAMES).toEqual([
      'create',
      'drop',
      'migrate',
      'seed',
      'setup',
      'connect',
      'sessions',
      'feed',
      'adopt-pool',
      'tunnel',
    ]);
    const lines = USAGE.split('\n');
    for (const name of COMMAND_NAMES) expect(lines.filter((line) => line.startsWith(`  ${name} `))).toHaveLength(1);
    // Two synopsis lines: the database commands', and tunnel's.
    expect(lines).toHaveLength(COMMAND_NAMES.length + 2);
    const help = await run(['--help'], {});
    expect(help.code).toBe(EXIT.OK);
    expect(help.out).toEqual([USAGE]);
  });

  it('knows no command the table does not declare, not even an object property name', async () => {
    for (const name of ['toString', 'constructor', '__proto__']) {
      const result = await run([name], envFor('postgres'));
      expect(result.code).toBe(EXIT.USAGE);
      expect(result.err.join('\n')).toMatch(/unknown command/);
    }
  });

  it('refuses arguments to a command other than connect', async () => {
    const result = await run(['migrate', 'extra'], envFor('postgres'));
    expect(result.code).toBe(EXIT.USAGE);
    expect(result.err.join('\n')).toMatch(/migrate takes no arguments, got 1/);
  });

  it('rejects an unknown command or option with the usage', async () => {
    const unknown = await run(['explode'], envFor('postgres'));
    expect(unknown.code).toBe(EXIT.USAGE);
    expect(unknown.err.join('\n')).toMatch(/unknown command "explode"/);
    const option = await run(['migrate', '--prdo'], envFor('postgres'));
    expect(option.code).toBe(EXIT.USAGE);
    expect(option.err.join('\n')).toMatch(/--prdo/);
  });
});

describe('db on production: verified TLS only', () => {
  it.each([
    ['sslmode=no-verify', 'sslmode=no-verify'],
    ['sslmode=disable', 'sslmode=disable'],
    ['sslmode=prefer', 'sslmode=prefer'],
    ['ssl=false', 'ssl=false'],
    ['rejectUnauthorized=false', 'rejectUnauthorized'],
  ])('refuses PROD_CONNECTION_URL with %s, naming it, before connecting', async (parameter, named) => {
    const result = await run(['migrate', '--prod'], {
      PROD_CONNECTION_URL: `postgres://ops:s3cret@127.0.0.1:1/cruddur?${parameter}`,
    });
    expect(result.code).toBe(EXIT.REFUSED);
    expect(result.err.join('\n')).toContain(`PROD_CONNECTION_URL asks for ${named}:`);
    expect(result.all()).not.toContain('s3cret');
  });

  it('accepts the same URL for dev, where a local server has no TLS', async () => {
    const result = await run(['sessions'], { CONNECTION_URL: `${server.url()}?sslmode=disable` });
    expect(result.code).toBe(EXIT.OK);
  });
});

describe('db --stage', () => {
  const ENDPOINT = 'cruddur-dev.abcdefghijkl.eu-west-1.rds.amazonaws.com';
  let tls: TlsTestServer;
  const cloudFormation = new CloudFormationClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example' },
  });
  const secrets = new SecretsManagerClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example' },
  });
  const cfnMock = mockClient(cloudFormation);
  const secretsMock = mockClient(secrets);

  beforeAll(async () => {
    // ops_reader logs in with an IAM token, which no password could match: trusted, over TLS only.
    tls = await startTlsServer(ENDPOINT, [
      'hostssl all ops_reader 127.0.0.1/32 trust',
      'host all ops_reader 127.0.0.1/32 reject',
    ]);
    await adminQuery(tls.server.url(), 'CREATE ROLE ops_reader LOGIN');
    await adminQuery(tls.server.url(), 'CREATE DATABASE cruddur');
  }, 120_000);
  afterAll(async () => {
    await tls?.destroy();
  });
  beforeEach(() => {
    cfnMock.reset();
    secretsMock.reset();
    cfnMock.on(DescribeStacksCommand, { StackName: 'Cruddur-dev-Database' }).resolves({
      Stacks: [
        {
          StackName: 'Cruddur-dev-Database',
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: [
            { OutputKey: 'DatabaseEndpoint', OutputValue: ENDPOINT },
            {
              OutputKey: 'DatabaseSecretArn',
              OutputValue: 'arn:aws:secretsmanager:eu-west-1:000000000000:secret:master',
            },
          ],
        },
      ],
    });
    secretsMock
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ username: 'postgres', password: 'postgres' }) });
  });

  const stageRun = (argv: string[], deps: Parameters<typeof main>[2] = {}) =>
    run(argv, {}, { cloudFormation, secrets, ca: [tls.ca], ...deps });
  const tunnel = () => ['--host', '127.0.0.1', '--port', String(tls.server.port)];

  it('logs in as --db-user with an IAM token through a tunnel, verifying the certificate against the endpoint name', async () => {
    const result = await stageRun(['sessions', '--stage', 'dev', '--db-user', 'ops_reader', ...tunnel()]);
    expect(result.err).toEqual([]);
    expect(result.code).toBe(EXIT.OK);
    expect(secretsMock.calls()).toHaveLength(0);
  });

  it('refuses a server whose certificate the RDS CAs did not sign', async () => {
    const result = await stageRun(['sessions', '--stage', 'dev', '--db-user', 'ops_reader', ...tunnel()], {
      ca: undefined,
    });
    expect(result.code).toBe(EXIT.CONFIG);
    expect(result.err.join('\n')).toMatch(/certificate .* did not verify \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
  });

  it('reads the master secret for an owner command, and never prints it', async () => {
    const result = await stageRun(['migrate', '--stage', 'dev', ...tunnel()]);
    expect(result.err).toEqual([]);
    expect(result.out.join('\n')).toMatch(/migrate: applied/);
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(result.all()).not.toContain('"password"');
  });

  it('needs --db-user for a command the owner is not needed for', async () => {
    const result = await stageRun(['sessions', '--stage', 'dev', ...tunnel()]);
    expect(result.code).toBe(EXIT.USAGE);
    expect(result.err.join('\n')).toMatch(/--stage needs --db-user NAME/);
    expect(secretsMock.calls()).toHaveLength(0);
  });

  it('takes only an IP address as --host, so that the name checked stays the endpoint', async () => {
    const result = await stageRun([
      'sessions',
      '--stage',
      'dev',
      '--db-user',
      'ops_reader',
      '--host',
      'localhost',
      '--port',
      String(tls.server.port),
    ]);
    expect(result.code).toBe(EXIT.USAGE);
    expect(result.err.join('\n')).toMatch(/--host must be an IP address/);
  });

  it('gives psql host, hostaddr, verify-full, a CA file and a password file, never the password in its environment', async () => {
    const dir = await mkdtemp(join(scratch, 'psql-'));
    const record = join(dir, 'record.txt');
    // The fake psql keeps what it was given while it runs: the files are gone after.
    await writeFile(
      join(dir, 'psql'),
      `#!/bin/sh\n{ env | grep -E '^PG' | sort; stat -c 'MODE %a' "$PGPASSFILE" "$PGSSLROOTCERT"; cat "$PGPASSFILE" | cut -c1-8; } > "${record}"\n`,
    );
    await chmod(join(dir, 'psql'), 0o755);
    const result = await run(
      ['connect', '--stage', 'dev', '--db-user', 'ops_reader', ...tunnel()],
      { PATH: `${dir}:/usr/bin:/bin` },
      { cloudFormation, secrets },
    );
    expect(result.code).toBe(0);
    const lines = (await readFile(record, 'utf8')).trim().split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        `PGHOST=${ENDPOINT}`,
        'PGHOSTADDR=127.0.0.1',
        `PGPORT=${tls.server.port}`,
        'PGDATABASE=cruddur',
        'PGUSER=ops_reader',
        'PGSSLMODE=verify-full',
        'MODE 600',
        '*:*:*:*:',
      ]),
    );
    expect(lines.filter((line) => line === 'MODE 600')).toHaveLength(2);
    expect(lines.some((line) => line.startsWith('PGPASSWORD='))).toBe(false);
    const passfile = lines.find((line) => line.startsWith('PGPASSFILE='))?.slice('PGPASSFILE='.length) ?? '';
    expect(passfile).not.toBe('');
    expect(existsSync(passfile)).toBe(false);
  });

  it('refuses --prod together with --stage, and --db-user without --stage', async () => {
    expect((await stageRun(['sessions', '--prod', '--stage', 'prod', '--db-user', 'ops_reader'])).code).toBe(
      EXIT.USAGE,
    );
    expect((await run(['sessions', '--db-user', 'ops_reader'], envFor('postgres'))).code).toBe(EXIT.USAGE);
  });
});

describe('db tunnel', () => {
  const ENDPOINT = 'cruddur-prod.abcdefghijkl.eu-west-1.rds.amazonaws.com';
  const INSTANCE = 'i-0123456789abcdef0';
  const cloudFormation = new CloudFormationClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example' },
  });
  const cfnMock = mockClient(cloudFormation);
  let record: string;

  function outputs(withOperator: boolean): void {
    cfnMock.reset();
    cfnMock.on(DescribeStacksCommand, { StackName: 'Cruddur-prod-Database' }).resolves({
      Stacks: [
        {
          StackName: 'Cruddur-prod-Database',
          CreationTime: new Date(),
          StackStatus: 'UPDATE_COMPLETE',
          Outputs: [
            { OutputKey: 'DatabaseEndpoint', OutputValue: ENDPOINT },
            ...(withOperator ? [{ OutputKey: 'OperatorInstanceId', OutputValue: INSTANCE }] : []),
          ],
        },
      ],
    });
  }

  /** A directory with a fake `aws` that records its argv one argument a line, and optionally the plugin. */
  async function fakeCli(options: { aws?: boolean; plugin?: boolean; exitCode?: number } = {}): Promise<string> {
    const dir = await mkdtemp(join(scratch, 'aws-cli-'));
    record = join(dir, 'argv');
    if (options.aws !== false) {
      await writeFile(
        join(dir, 'aws'),
        `#!/bin/sh\nPATH=/usr/bin:/bin\nfor arg in "$@"; do printf '%s\\n' "$arg"; done > "${record}"\nexit ${options.exitCode ?? 0}\n`,
      );
      await chmod(join(dir, 'aws'), 0o755);
    }
    if (options.plugin !== false) {
      await writeFile(join(dir, 'session-manager-plugin'), '#!/bin/sh\nexit 0\n');
      await chmod(join(dir, 'session-manager-plugin'), 0o755);
    }
    return dir;
  }

  const tunnelRun = (argv: string[], path: string) => run(['tunnel', ...argv], { PATH: path }, { cloudFormation });

  it('starts a port-forwarding session to the endpoint through the operator host, with these exact arguments', async () => {
    outputs(true);
    const dir = await fakeCli({ exitCode: 0 });
    const result = await tunnelRun(['--stage', 'prod', '--local-port', '25432'], dir);
    expect(result.code).toBe(EXIT.OK);
    expect((await readFile(record, 'utf8')).split('\n').slice(0, -1)).toEqual([
      'ssm',
      'start-session',
      '--target',
      INSTANCE,
      '--document-name',
      'AWS-StartPortForwardingSessionToRemoteHost',
      '--parameters',
      `host=${ENDPOINT},portNumber=5432,localPortNumber=25432`,
      '--region',
      'eu-west-1',
    ]);
    expect(result.out).toEqual([
      'in another terminal: npm run db -- connect --stage prod --db-user <NAME> --host 127.0.0.1 --port 25432',
    ]);
  });

  it("forwards local port 15432 by default and returns the CLI's exit code", async () => {
    outputs(true);
    const dir = await fakeCli({ exitCode: 254 });
    const result = await tunnelRun(['--stage', 'prod'], dir);
    expect(result.code).toBe(254);
    expect(await readFile(record, 'utf8')).toContain(`host=${ENDPOINT},portNumber=5432,localPortNumber=15432\n`);
  });

  it('says how to turn operator access on when the stack has no OperatorInstanceId output, and exits 78', async () => {
    outputs(false);
    const dir = await fakeCli();
    const result = await tunnelRun(['--stage', 'prod'], dir);
    expect(result.code).toBe(EXIT.CONFIG);
    expect(result.err).toEqual([
      'db: Cruddur-prod-Database has no operator host (no OperatorInstanceId output); turn it on with: npx cdk deploy -c stage=prod -c operatorAccess=true',
    ]);
    expect(existsSync(record)).toBe(false);
  });

  it('names the AWS CLI, and how to install it, when aws is not on PATH, and exits 127', async () => {
    outputs(true);
    const dir = await fakeCli({ aws: false });
    const result = await tunnelRun(['--stage', 'prod'], dir);
    expect(result.code).toBe(EXIT.NOT_FOUND);
    expect(result.err.join('\n')).toMatch(
      /^db: the AWS CLI v2 is not installed or not on PATH; install it \(https:\/\/docs\.aws\.amazon\.com\/cli\//,
    );
    expect(result.err.join('\n')).not.toMatch(/session-manager-plugin/);
    // Checked on this machine before any AWS call.
    expect(cfnMock.calls()).toHaveLength(0);
  });

  it('says it cannot reach the AWS API, not the database, when CloudFormation does not answer', async () => {
    const dir = await fakeCli();
    const unreachable = new CloudFormationClient({
      region: 'eu-west-1',
      endpoint: `http://127.0.0.1:${await freePort()}`,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example' },
      maxAttempts: 1,
    });
    const result = await run(['tunnel', '--stage', 'prod'], { PATH: dir }, { cloudFormation: unreachable });
    expect(result.code).toBe(EXIT.UNAVAILABLE);
    expect(result.err).toEqual([expect.stringMatching(/^db: cannot reach the AWS API \(ECONNREFUSED, 1 attempt\)/)]);
    expect(existsSync(record)).toBe(false);
  });

  it('names the Session Manager plugin, and how to install it, when only the plugin is missing, and exits 127', async () => {
    outputs(true);
    const dir = await fakeCli({ plugin: false });
    const result = await tunnelRun(['--stage', 'prod'], dir);
    expect(result.code).toBe(EXIT.NOT_FOUND);
    expect(result.err.join('\n')).toMatch(
      /^db: the Session Manager plugin for the AWS CLI \(session-manager-plugin\) is not installed or not on PATH; install it/,
    );
    expect(existsSync(record)).toBe(false);
    expect(cfnMock.calls()).toHaveLength(0);
  });

  it('does not take a file that is not executable for the CLI', async () => {
    outputs(true);
    const dir = await fakeCli({ aws: false });
    await writeFile(join(dir, 'aws'), '#!/bin/sh\nexit 0\n');
    await chmod(join(dir, 'aws'), 0o644);
    expect((await tunnelRun(['--stage', 'prod'], dir)).code).toBe(EXIT.NOT_FOUND);
  });

  it('refuses tunnel without --stage, with --prod or database flags, a bad --local-port, and --local-port elsewhere', async () => {
    outputs(true);
    const dir = await fakeCli();
    for (const argv of [
      [],
      ['--prod'],
      ['--stage', 'prod', '--db-user', 'ops_reader'],
      ['--stage', 'prod', '--port', '5432'],
      ['--stage', 'prod', '--local-port', '70000'],
      ['--stage', 'prod', 'extra'],
    ]) {
      const result = await tunnelRun(argv, dir);
      expect(result.code, argv.join(' ')).toBe(EXIT.USAGE);
    }
    expect((await tunnelRun(['--stage', 'prod', '--local-port', 'x'], dir)).err.join('\n')).toMatch(
      /--local-port must be a TCP port/,
    );
    const elsewhere = await run(['sessions', '--local-port', '15432'], envFor('postgres'));
    expect(elsewhere.code).toBe(EXIT.USAGE);
    expect(elsewhere.err.join('\n')).toMatch(/--local-port goes with tunnel/);
    expect(existsSync(record)).toBe(false);
  });
});
