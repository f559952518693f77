import { describe, expect, it } from 'vitest';
import { connectionSourceFor, databaseSettingsFromEnv } from '../../../lambdas/postgres/connection-source';
import { UnknownRegionCaError } from '../../../lambdas/postgres/rds-ca';
import { verifiedTls } from '../../../lambdas/postgres/tls';
import { ConfigurationError } from '../../../lambdas/runtime/errors';

const IAM_ENV = {
  DB_HOST: 'db.example.internal',
  DB_NAME: 'cruddur',
  DB_USER: 'signup_writer',
  AWS_REGION: 'us-east-1',
};

describe('databaseSettingsFromEnv', () => {
  it('uses CONNECTION_URL when it is set', () => {
    expect(databaseSettingsFromEnv({ ...IAM_ENV, CONNECTION_URL: 'postgres://u:p@127.0.0.1:5432/cruddur' })).toEqual({
      connectionUrl: 'postgres://u:p@127.0.0.1:5432/cruddur',
    });
  });

  it('names CONNECTION_URL when it is not a URL', () => {
    expect(() => databaseSettingsFromEnv({ CONNECTION_URL: 'not a url' })).toThrow(
      new ConfigurationError('CONNECTION_URL', 'is not a valid URL'),
    );
  });

  it('names CONNECTION_URL when neither it nor the IAM settings are there', () => {
    expect(() => databaseSettingsFromEnv({})).toThrow(/CONNECTION_URL is not set/);
  });

  it('treats an empty CONNECTION_URL (as the deployed template declares it) as unset', () => {
    expect(databaseSettingsFromEnv({ ...IAM_ENV, CONNECTION_URL: '' })).toEqual({
      iam: {
        host: 'db.example.internal',
        port: 5432,
        database: 'cruddur',
        user: 'signup_writer',
        region: 'us-east-1',
        proxy: false,
      },
    });
  });

  it('marks an RDS Proxy endpoint from DB_ENDPOINT_KIND, and names the variable when it is neither kind', () => {
    expect(databaseSettingsFromEnv({ ...IAM_ENV, DB_ENDPOINT_KIND: 'proxy' })).toMatchObject({ iam: { proxy: true } });
    expect(() => databaseSettingsFromEnv({ ...IAM_ENV, DB_ENDPOINT_KIND: 'cluster' })).toThrow(
      new ConfigurationError('DB_ENDPOINT_KIND', 'must be instance or proxy'),
    );
  });

  it('takes the region from AWS_DEFAULT_REGION when AWS_REGION is not set', () => {
    const settings = databaseSettingsFromEnv({
      ...IAM_ENV,
      AWS_REGION: undefined,
      AWS_DEFAULT_REGION: 'eu-west-1',
      DB_PORT: '6543',
    });
    expect(settings).toMatchObject({ iam: { region: 'eu-west-1', port: 6543 } });
  });

  it.each([
    [{ DB_HOST: 'h', DB_USER: 'u', AWS_REGION: 'us-east-1' }, 'DB_NAME'],
    [{ DB_HOST: 'h', DB_NAME: 'd', AWS_REGION: 'us-east-1' }, 'DB_USER'],
    [{ DB_HOST: 'h', DB_NAME: 'd', DB_USER: 'u', DB_PORT: 'x', AWS_REGION: 'us-east-1' }, 'DB_PORT'],
    [{ DB_HOST: 'h', DB_NAME: 'd', DB_USER: 'u', DB_PORT: '70000', AWS_REGION: 'us-east-1' }, 'DB_PORT'],
    [{ DB_HOST: ' ', DB_NAME: 'd', DB_USER: 'u', AWS_REGION: 'us-east-1' }, 'DB_HOST'],
    [{ DB_HOST: 'h', DB_NAME: 'd', DB_USER: 'u' }, 'AWS_DEFAULT_REGION'],
  ])('names the variable that is missing or wrong for IAM authentication (%o)', (env, variable) => {
    const error = (() => {
      try {
        databaseSettingsFromEnv(env);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ variable });
  });
});

describe('connectionSourceFor', () => {
  it('passes a connection URL on as it is', () => {
    const source = connectionSourceFor({ connectionUrl: 'postgres://u:p@127.0.0.1:5432/cruddur' });
    expect(source()).toEqual({ connectionString: 'postgres://u:p@127.0.0.1:5432/cruddur' });
  });

  it('connects with IAM over TLS that verifies the certificate and the host name, the token as the password', () => {
    const source = connectionSourceFor({
      iam: { host: 'db.example.internal', port: 5432, database: 'cruddur', user: 'signup_writer', region: 'us-east-1' },
    });
    const settings = source();
    expect(settings).toMatchObject({
      host: 'db.example.internal',
      port: 5432,
      database: 'cruddur',
      user: 'signup_writer',
    });
    expect(settings.ssl).toEqual(verifiedTls('db.example.internal', { region: 'us-east-1' }));
    const proxied = connectionSourceFor({
      iam: {
        host: 'p.proxy-x.us-east-1.rds.amazonaws.com',
        port: 5432,
        database: 'cruddur',
        user: 'u',
        region: 'us-east-1',
        proxy: true,
      },
    })();
    expect(proxied.ssl).toEqual(
      verifiedTls('p.proxy-x.us-east-1.rds.amazonaws.com', { region: 'us-east-1', proxy: true }),
    );
    expect(typeof settings.password).toBe('function');
  });

  it('refuses a region no CA file can exist for on cold start, and picks the CAs once, at the first connection', () => {
    const iam = { host: 'db.example.internal', port: 5432, database: 'cruddur', user: 'u' };
    expect(() => connectionSourceFor({ iam: { ...iam, region: 'Not A Region' } })).toThrow(UnknownRegionCaError);
    // A well-formed region without CAs is found out when the first connection needs them.
    const unknown = connectionSourceFor({ iam: { ...iam, region: 'xx-nowhere-9' } });
    expect(() => unknown()).toThrow(UnknownRegionCaError);
    const source = connectionSourceFor({ iam: { ...iam, region: 'eu-west-1' } });
    expect(source().ssl).toBe(source().ssl);
  });

  it('names CONNECTION_URL when a URL given in code is not one', () => {
    expect(() => connectionSourceFor({ connectionUrl: 'not a url' })).toThrow(ConfigurationError);
  });
});
