import { describe, expect, it } from 'vitest';
import { connectionSourceFromEnv } from '../../../lambdas/shared/config';
import { ConfigurationError } from '../../../lambdas/shared/errors';

describe('connectionSourceFromEnv', () => {
  it('uses CONNECTION_URL when it is set', () => {
    const source = connectionSourceFromEnv({ CONNECTION_URL: 'postgres://u:p@127.0.0.1:5432/cruddur' });
    expect(source()).toEqual({ connectionString: 'postgres://u:p@127.0.0.1:5432/cruddur' });
  });

  it('names CONNECTION_URL when it is not a URL', () => {
    expect(() => connectionSourceFromEnv({ CONNECTION_URL: 'not a url' })).toThrow(
      new ConfigurationError('CONNECTION_URL', 'is not a valid URL'),
    );
  });

  it('names CONNECTION_URL when neither it nor the IAM settings are there', () => {
    expect(() => connectionSourceFromEnv({})).toThrow(/CONNECTION_URL is not set/);
  });

  it('treats an empty CONNECTION_URL (as the deployed template declares it) as unset', () => {
    const env = { CONNECTION_URL: '', DB_HOST: 'db.example.internal', DB_NAME: 'cruddur', DB_USER: 'signup_writer', AWS_REGION: 'us-east-1' };
    const settings = connectionSourceFromEnv(env)();
    expect(settings).toMatchObject({ host: 'db.example.internal', port: 5432, database: 'cruddur', user: 'signup_writer' });
    expect(settings.ssl).toEqual({ rejectUnauthorized: true, servername: 'db.example.internal' });
    expect(typeof settings.password).toBe('function');
  });

  it.each([
    [{ DB_HOST: 'h', DB_USER: 'u', AWS_REGION: 'us-east-1' }, 'DB_NAME'],
    [{ DB_HOST: 'h', DB_NAME: 'd', AWS_REGION: 'us-east-1' }, 'DB_USER'],
    [{ DB_HOST: 'h', DB_NAME: 'd', DB_USER: 'u', DB_PORT: 'x', AWS_REGION: 'us-east-1' }, 'DB_PORT'],
    [{ DB_HOST: 'h', DB_NAME: 'd', DB_USER: 'u' }, 'AWS_DEFAULT_REGION'],
  ])('names the variable that is missing or wrong for IAM authentication (%o)', (env, variable) => {
    expect(() => connectionSourceFromEnv(env)).toThrow(expect.objectContaining({ name: 'ConfigurationError', variable }));
  });
});
