import { describe, expect, it, vi } from 'vitest';
import { MIGRATIONS_DIR } from '../../../lambdas/postgres/migrate';
import { settingsFromEnv } from '../../../lambdas/migrate/settings';
import { ConfigurationError } from '../../../lambdas/runtime/errors';

const ENV = {
  DB_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:cruddur-master-AbCdEf',
  DB_HOST: 'db.example.internal',
  DB_NAME: 'cruddur',
};

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('settingsFromEnv', () => {
  it('reads the secret, the endpoint and the migrations directory', () => {
    expect(settingsFromEnv({ ...ENV, DB_PORT: '6543', MIGRATIONS_DIR: '/var/task/sql/migrations' })).toEqual({
      secretArn: ENV.DB_SECRET_ARN,
      host: 'db.example.internal',
      port: 6543,
      database: 'cruddur',
      migrationsDir: '/var/task/sql/migrations',
    });
  });

  it('defaults to port 5432 and the migrations in sql/', () => {
    expect(settingsFromEnv(ENV)).toMatchObject({ port: 5432, migrationsDir: MIGRATIONS_DIR });
  });

  it.each([
    [{ ...ENV, DB_SECRET_ARN: '' }, 'DB_SECRET_ARN'],
    [{ ...ENV, DB_HOST: undefined }, 'DB_HOST'],
    [{ ...ENV, DB_NAME: ' ' }, 'DB_NAME'],
    [{ ...ENV, DB_PORT: 'five' }, 'DB_PORT'],
  ])('names the variable that is missing or wrong (%o)', (env, variable) => {
    const error = thrown(() => settingsFromEnv(env));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ variable });
  });
});

describe('index', () => {
  it('exports a handler built from a valid environment', async () => {
    for (const [name, value] of Object.entries(ENV)) vi.stubEnv(name, value);
    const { handler } = await import('../../../lambdas/migrate/index');
    expect(handler).toBeTypeOf('function');
    expect(handler.close).toBeTypeOf('function');
  });
});
