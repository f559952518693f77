import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../lambdas/runtime/logger';
import { InvalidSecretError } from '../../../lambdas/migrate/core';
import { createHandler } from '../../../lambdas/migrate/handler';
import { startTestServer, type TestServer } from '../../support/postgres';
import { FUNCTION_FILES, MASTER, MIGRATION_FILES, migrateDatabases, SECRET_ARN } from './fixtures';

const secrets = mockClient(SecretsManagerClient);
let server: TestServer;
let logLines: string[];
const { settings, freshDatabase, tables } = migrateDatabases(() => server);

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
    await expect(handler()).resolves.toEqual({ applied: MIGRATION_FILES, functions: FUNCTION_FILES });
    await handler.close();
    expect(logLines.map((line) => JSON.parse(line) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({ message: 'migrations applied', appliedCount: MIGRATION_FILES.length }),
    );
  });

  it('logs the reason of a refused secret, which names a field and never a value', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'postgres' }) });
    const handler = createHandler(settings(await freshDatabase()), {
      secrets: new SecretsManagerClient({}),
      logger,
      ssl: false,
    });
    await expect(handler()).rejects.toBeInstanceOf(InvalidSecretError);
    expect(logLines.map((line) => JSON.parse(line) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({
        level: 'ERROR',
        errorName: 'InvalidSecretError',
        errorMessage: 'The database secret has no password',
      }),
    );
  });
});
