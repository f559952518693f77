import { describe, expect, it, vi } from 'vitest';
import { settingsFromEnv } from '../../../lambdas/replay/settings';
import { ConfigurationError } from '../../../lambdas/runtime/errors';

const URL_ENV = { CONNECTION_URL: 'postgres://u:p@127.0.0.1:5432/cruddur' };
const IAM_ENV = { DB_HOST: 'db.example.internal', DB_NAME: 'cruddur', DB_USER: 'replay', AWS_REGION: 'us-east-1' };

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('settingsFromEnv', () => {
  it('reads the database URL locally', () => {
    expect(settingsFromEnv(URL_ENV)).toEqual({
      database: { connectionUrl: URL_ENV.CONNECTION_URL },
      erasurePolicy: 'delete',
    });
  });

  it.each([
    ['delete', 'delete'],
    ['anonymize', 'anonymize'],
    ['', 'delete'],
  ])('reads ERASURE_POLICY %j as %s', (value, policy) => {
    expect(settingsFromEnv({ ...URL_ENV, ERASURE_POLICY: value }).erasurePolicy).toBe(policy);
  });

  it('reads the IAM database settings as deployed', () => {
    expect(settingsFromEnv({ ...IAM_ENV, CONNECTION_URL: '' })).toMatchObject({
      database: {
        iam: { host: 'db.example.internal', port: 5432, database: 'cruddur', user: 'replay', region: 'us-east-1' },
      },
      erasurePolicy: 'delete',
    });
  });

  it.each([
    ['no database at all', {}, 'CONNECTION_URL'],
    ['a CONNECTION_URL that is not a URL', { CONNECTION_URL: 'cruddur' }, 'CONNECTION_URL'],
    ['no DB_NAME', { ...IAM_ENV, DB_NAME: undefined }, 'DB_NAME'],
    ['no DB_USER', { ...IAM_ENV, DB_USER: '' }, 'DB_USER'],
    ['a DB_PORT that is not a port', { ...IAM_ENV, DB_PORT: '5432x' }, 'DB_PORT'],
    ['no region', { ...IAM_ENV, AWS_REGION: undefined }, 'AWS_DEFAULT_REGION'],
    ['an erasure policy it does not know', { ...URL_ENV, ERASURE_POLICY: 'forget' }, 'ERASURE_POLICY'],
    ['an erasure policy in another case', { ...URL_ENV, ERASURE_POLICY: 'DELETE' }, 'ERASURE_POLICY'],
  ])('refuses %s with a ConfigurationError naming the variable', (_name, env, variable) => {
    const error = thrown(() => settingsFromEnv(env));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ variable });
  });
});

describe('index', () => {
  it('exports a handler built from a valid environment, without connecting yet', async () => {
    vi.stubEnv('CONNECTION_URL', 'postgres://u:p@127.0.0.1:9/cruddur');
    const { handler } = await import('../../../lambdas/replay/index');
    expect(handler).toBeTypeOf('function');
    await handler.close();
  });
});
