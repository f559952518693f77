import { describe, expect, it, vi } from 'vitest';
import { FUNCTIONS_DIR, MIGRATIONS_DIR } from '../../../lambdas/postgres/migrate';
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
  it('reads the secret, the endpoint and the migrations and functions directories', () => {
    expect(
      settingsFromEnv({
        ...ENV,
        DB_PORT: '6543',
        MIGRATIONS_DIR: '/var/task/sql/migrations',
        FUNCTIONS_DIR: '/var/task/sql/functions',
      }),
    ).toEqual({
      secretArn: ENV.DB_SECRET_ARN,
      host: 'db.example.internal',
      port: 6543,
      database: 'cruddur',
      migrationsDir: '/var/task/sql/migrations',
      functionsDir: '/var/task/sql/functions',
    });
  });

  it("takes the region Lambda sets, so that only that region's RDS roots are trusted", () => {
    expect(settingsFromEnv({ ...ENV, AWS_REGION: 'eu-west-1' })).toMatchObject({ region: 'eu-west-1' });
    expect(settingsFromEnv(ENV)).not.toHaveProperty('region');
  });

  it('defaults to port 5432 and the migrations and functions in sql/', () => {
    expect(settingsFromEnv(ENV)).toMatchObject({
      port: 5432,
      migrationsDir: MIGRATIONS_DIR,
      functionsDir: FUNCTIONS_DIR,
    });
  });

  it('reads the connection limits the stage sets, any subset of the four function roles', () => {
    const limits = { signup_writer: 20, sync_writer: 5, user_reconciler: 2, handle_checker: -1 };
    expect(settingsFromEnv({ ...ENV, CONNECTION_LIMITS: JSON.stringify(limits) }).connectionLimits).toEqual(limits);
    expect(settingsFromEnv({ ...ENV, CONNECTION_LIMITS: '{"sync_writer": 10000}' }).connectionLimits).toEqual({
      sync_writer: 10000,
    });
  });

  it('sets no connection limits when CONNECTION_LIMITS is unset or blank', () => {
    expect(settingsFromEnv(ENV)).not.toHaveProperty('connectionLimits');
    expect(settingsFromEnv({ ...ENV, CONNECTION_LIMITS: '' })).not.toHaveProperty('connectionLimits');
  });

  it.each([
    ['not JSON', '{signup_writer: 2}', 'is not JSON'],
    ['an array', '[["signup_writer", 2]]', 'must be a JSON object'],
    ['a number', '20', 'must be a JSON object'],
    ['another role', '{"postgres": 2}', 'may only name'],
    ['the functions’ owner', '{"users_sync_owner": 2}', 'may only name'],
    ['a role in another case', '{"Signup_Writer": 2}', 'may only name'],
    ['zero', '{"signup_writer": 0}', 'signup_writer must be a whole number'],
    ['a fraction', '{"signup_writer": 2.5}', 'signup_writer must be a whole number'],
    ['a string', '{"signup_writer": "2"}', 'signup_writer must be a whole number'],
    ['more than 10000', '{"signup_writer": 10001}', 'signup_writer must be a whole number'],
    ['-2', '{"handle_checker": -2}', 'handle_checker must be a whole number'],
  ])('refuses CONNECTION_LIMITS holding %s, naming the variable', (_what, text, reason) => {
    const error = thrown(() => settingsFromEnv({ ...ENV, CONNECTION_LIMITS: text }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ variable: 'CONNECTION_LIMITS' });
    expect((error as Error).message).toContain(reason);
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
