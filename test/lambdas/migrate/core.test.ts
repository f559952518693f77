import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../lambdas/runtime/logger';
import { InvalidSecretError, parseSecret, runMigrations } from '../../../lambdas/migrate/core';
import { startTestServer, type TestServer } from '../../support/postgres';
import { FUNCTION_FILES, MASTER, MIGRATION_FILES, migrateDatabases, SECRET_ARN } from './fixtures';

const secrets = mockClient(SecretsManagerClient);
let server: TestServer;
let logLines: string[];
const { settings, freshDatabase, tables } = migrateDatabases(() => server);

async function withServerClient<T>(use: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: server.url() });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

const logger = createLogger({ service: 'migrate' }, (line) => logLines.push(line));

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.destroy();
});

beforeEach(() => {
  logLines = [];
  secrets.reset();
  secrets
    .on(GetSecretValueCommand, { SecretId: SECRET_ARN })
    .resolves({ SecretString: JSON.stringify({ ...MASTER, engine: 'postgres' }) });
});

afterEach(() => {
  // Whatever happened, no credential reaches the logs.
  for (const line of logLines) expect(line).not.toMatch(/"password"|the-old-password|:"wrong"|postgres:postgres/);
});

describe('runMigrations', () => {
  it('applies every migration and function file with the master credentials from Secrets Manager, then nothing on a second run', async () => {
    const name = await freshDatabase();
    const first = await runMigrations({
      secrets: new SecretsManagerClient({}),
      settings: settings(name),
      logger,
      ssl: false,
    });
    expect(first.applied).toEqual(MIGRATION_FILES);
    expect(first.functions).toEqual(FUNCTION_FILES);
    expect(await tables(name)).toEqual(['activities', 'migrations', 'user_groups', 'users']);
    const second = await runMigrations({
      secrets: new SecretsManagerClient({}),
      settings: settings(name),
      logger,
      ssl: false,
    });
    expect(second.applied).toEqual([]);
    expect(second.functions).toEqual([]);
    expect(logLines.map((line) => JSON.parse(line) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({
        message: 'migrations applied',
        functionsCount: FUNCTION_FILES.length,
        functions: FUNCTION_FILES.join(','),
      }),
    );
    expect(secrets.commandCalls(GetSecretValueCommand, { SecretId: SECRET_ARN })).toHaveLength(2);
  });

  it('sets the connection limits after the migrations, in the same run, and reports all four', async () => {
    const name = await freshDatabase();
    const limits = { signup_writer: 20, sync_writer: 5 };
    const result = await runMigrations({
      secrets: new SecretsManagerClient({}),
      settings: { ...settings(name), connectionLimits: limits },
      logger,
      ssl: false,
    });
    expect(result.applied).toEqual(MIGRATION_FILES);
    expect(result.connectionLimits).toMatchObject(limits);
    const { rows } = await withServerClient((client) =>
      client.query<{ rolname: string; rolconnlimit: number }>(
        "SELECT rolname, rolconnlimit FROM pg_roles WHERE rolname IN ('signup_writer', 'sync_writer') ORDER BY rolname",
      ),
    );
    expect(rows).toEqual([
      { rolname: 'signup_writer', rolconnlimit: 20 },
      { rolname: 'sync_writer', rolconnlimit: 5 },
    ]);
    const logged = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged).toContainEqual(
      expect.objectContaining({ message: 'connection limits set', signup_writer: 20, sync_writer: 5 }),
    );
    // Roles belong to the server: lift the limits again for the other tests of this file.
    await runMigrations({
      secrets: new SecretsManagerClient({}),
      settings: { ...settings(name), connectionLimits: { signup_writer: -1, sync_writer: -1 } },
      logger,
      ssl: false,
    });
  });

  it('fails the run when the database refuses the limits, after the migrations committed', async () => {
    const name = await freshDatabase();
    // The settings parser refuses this map; a caller that skips it still meets the database's check.
    const connectionLimits = { signup_writer: 0 } as never;
    await expect(
      runMigrations({
        secrets: new SecretsManagerClient({}),
        settings: { ...settings(name), connectionLimits },
        logger,
        ssl: false,
      }),
    ).rejects.toMatchObject({ code: '22023' });
    expect(await tables(name)).toEqual(['activities', 'migrations', 'user_groups', 'users']);
  });

  it('reads the secret again when the password is refused mid-rotation, and succeeds with the new one', async () => {
    const name = await freshDatabase();
    secrets
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: JSON.stringify({ username: 'postgres', password: 'the-old-password' }) })
      .resolves({ SecretString: JSON.stringify(MASTER) });
    const result = await runMigrations({
      secrets: new SecretsManagerClient({}),
      settings: settings(name),
      logger,
      ssl: false,
      retryDelayMs: 10,
    });
    expect(result.applied).toEqual(MIGRATION_FILES);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('gives up after three refused passwords with the database error code', async () => {
    const name = await freshDatabase();
    secrets
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ username: 'postgres', password: 'wrong' }) });
    await expect(
      runMigrations({
        secrets: new SecretsManagerClient({}),
        settings: settings(name),
        logger,
        ssl: false,
        retryDelayMs: 10,
      }),
    ).rejects.toMatchObject({ code: '28P01' });
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(3);
    expect(await tables(name)).toEqual([]);
  });
});

describe('parseSecret', () => {
  it('reads username and password from the RDS secret JSON', () => {
    expect(parseSecret(JSON.stringify({ username: 'u', password: 'p', host: 'h' }))).toEqual({
      username: 'u',
      password: 'p',
    });
  });

  it.each([
    [undefined, /has no SecretString/],
    ['not json', /is not JSON/],
    ['{"password":"p"}', /has no username/],
    ['{"username":"u"}', /has no password/],
  ])('refuses %s without quoting it', (text, message) => {
    expect(() => parseSecret(text)).toThrow(InvalidSecretError);
    expect(() => parseSecret(text)).toThrow(message);
    try {
      parseSecret(text);
    } catch (error) {
      expect((error as Error).message).not.toContain('"p"');
    }
  });
});
