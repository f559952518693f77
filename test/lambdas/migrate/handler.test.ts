import { readdirSync } from 'node:fs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { Client, escapeIdentifier } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../lambdas/runtime/logger';
import { InvalidSecretError } from '../../../lambdas/migrate/core';
import { createHandler } from '../../../lambdas/migrate/handler';
import type { MigrateSettings } from '../../../lambdas/migrate/settings';
import { MIGRATIONS_DIR } from '../../../lambdas/postgres/migrate';
import { adminQuery, startTestServer, type TestServer } from '../../support/postgres';

// Every file in sql/migrations, in the order they apply.
const MIGRATION_FILES = readdirSync(MIGRATIONS_DIR).filter((file) => file.endsWith('.sql')).sort();
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:cruddur-master-AbCdEf';
// The embedded server's throwaway superuser (test/support/postgres.ts), standing in for the RDS master user.
const MASTER = { username: 'postgres', password: 'postgres' };

const secrets = mockClient(SecretsManagerClient);
let server: TestServer;
let database = 0;
let logLines: string[];

function settings(name: string): MigrateSettings {
  return { secretArn: SECRET_ARN, host: '127.0.0.1', port: server.port, database: name, migrationsDir: MIGRATIONS_DIR };
}

async function freshDatabase(): Promise<string> {
  const name = `migrate_${++database}`;
  await adminQuery(server.url(), 'CREATE DATABASE ' + escapeIdentifier(name));
  return name;
}

async function tables(name: string): Promise<string[]> {
  const client = new Client({ connectionString: server.url(name) });
  await client.connect();
  try {
    const { rows } = await client.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    return rows.map((row) => row.table_name);
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
  secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: JSON.stringify({ ...MASTER, engine: 'postgres' }) });
});

afterEach(() => {
  // Whatever happened, no credential reaches the logs.
  for (const line of logLines) expect(line).not.toMatch(/"password"|the-old-password|:"wrong"|postgres:postgres/);
});

describe('createHandler', () => {
  it('insists on TLS: it refuses a server that does not offer it and applies nothing', async () => {
    const name = await freshDatabase();
    const handler = createHandler(settings(name), { secrets: new SecretsManagerClient({}), logger });
    await expect(handler()).rejects.toThrow(/does not support SSL/);
    expect(await tables(name)).toEqual([]);
    expect(logLines.join('')).toContain('"message":"migrations failed"');
  });

  it('applies the migrations with the injected client and TLS settings', async () => {
    const name = await freshDatabase();
    const handler = createHandler(settings(name), { secrets: new SecretsManagerClient({}), logger, ssl: false });
    await expect(handler()).resolves.toEqual({ applied: MIGRATION_FILES });
    await handler.close();
    expect(logLines.map((line) => JSON.parse(line) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({ message: 'migrations applied', appliedCount: MIGRATION_FILES.length }),
    );
  });

  it('logs the reason of a refused secret, which names a field and never a value', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'postgres' }) });
    const handler = createHandler(settings(await freshDatabase()), { secrets: new SecretsManagerClient({}), logger, ssl: false });
    await expect(handler()).rejects.toBeInstanceOf(InvalidSecretError);
    expect(logLines.map((line) => JSON.parse(line) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({ level: 'ERROR', errorName: 'InvalidSecretError', errorMessage: 'The database secret has no password' }),
    );
  });
});
