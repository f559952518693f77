import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CliError,
  EXIT,
  connectionUrlFromEnv,
  describeFailure,
  parseConnectionUrl,
  parseSubcommand,
  redactText,
  redactUrl,
  withDatabase,
} from '../../../bin/cli/common';
import { ConfigurationError } from '../../../lambdas/runtime/errors';
import { DatabaseUnavailableError } from '../../../lambdas/postgres/errors';

describe('parseSubcommand', () => {
  const options = { prod: { type: 'boolean', default: false } } as const;

  it('returns the command and the option values', () => {
    expect(parseSubcommand(['status', '--prod'], options, 'usage: x')).toEqual({
      command: 'status',
      values: { prod: true },
    });
    expect(parseSubcommand([], options, 'usage: x')).toEqual({ command: undefined, values: { prod: false } });
  });

  it.each([
    [['status', 'extra'], /unexpected argument "extra"\nusage: x/],
    [['status', '--nope'], /Unknown option '--nope'[\s\S]*usage: x/],
  ])('refuses %o as a usage error that repeats the usage', (argv, message) => {
    const error = (() => {
      try {
        parseSubcommand(argv, options, 'usage: x');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(CliError);
    expect(error).toMatchObject({ exitCode: EXIT.USAGE, message: expect.stringMatching(message) as unknown });
  });
});

describe('connection URLs', () => {
  it('takes the database from the path, even when host and password contain its name', () => {
    const connection = parseConnectionUrl(
      'CONNECTION_URL',
      'postgres://cruddur:cruddur%2Fpw@cruddur.example:5432/cruddur?sslmode=verify-full',
    );
    expect(connection.database).toBe('cruddur');
    expect(connection.redacted).toBe('postgres://cruddur:***@cruddur.example:5432/cruddur?sslmode=verify-full');
  });

  it('decodes an encoded database name and accepts postgresql:// and IPv6 hosts', () => {
    expect(parseConnectionUrl('X', 'postgresql://u:p@[::1]:5432/my%20db').database).toBe('my db');
  });

  it('swaps the database and keeps credentials, host and parameters', () => {
    const connection = parseConnectionUrl('X', 'postgres://u:p%40ss@db.example:6543/cruddur?sslmode=require');
    expect(withDatabase(connection, 'postgres')).toBe('postgres://u:p%40ss@db.example:6543/postgres?sslmode=require');
  });

  it.each([
    ['not a url', /is not a valid URL/],
    ['http://u:p@host/db', /must start with postgres:\/\//],
    ['postgres://u:p@host', /names no database/],
    ['postgres://u:p@host/a/b', /not a single database name/],
  ])('refuses %s with a ConfigurationError naming the variable', (value, reason) => {
    expect(() => parseConnectionUrl('CONNECTION_URL', value)).toThrow(ConfigurationError);
    expect(() => parseConnectionUrl('CONNECTION_URL', value)).toThrow(reason);
  });

  it('reads PROD_CONNECTION_URL only with prod', () => {
    const env = { CONNECTION_URL: 'postgres://a@h/dev', PROD_CONNECTION_URL: 'postgres://a@h/prod' };
    expect(connectionUrlFromEnv(env, false).database).toBe('dev');
    expect(connectionUrlFromEnv(env, true).database).toBe('prod');
    expect(() => connectionUrlFromEnv({ CONNECTION_URL: 'postgres://a@h/dev' }, true)).toThrow(
      'PROD_CONNECTION_URL is not set',
    );
  });
});

describe('redaction', () => {
  it('hides the password of a URL and leaves a URL without one alone', () => {
    expect(redactUrl('postgres://u:secret@h:1/db')).toBe('postgres://u:***@h:1/db');
    expect(redactUrl('postgres://u@h:1/db')).toBe('postgres://u@h:1/db');
    expect(redactUrl('::nonsense')).toBe('<unparseable URL>');
  });

  it('hides passwords of URLs quoted in free text', () => {
    expect(redactText('failed for postgres://u:s3cret@h/db and mysql://x:y@z/ too')).toBe(
      'failed for postgres://u:***@h/db and mysql://x:***@z/ too',
    );
  });
});

describe('describeFailure', () => {
  it('maps our errors to their exit codes', () => {
    expect(describeFailure(new CliError('busy', EXIT.BUSY))).toEqual({ message: 'busy', exitCode: EXIT.BUSY });
    expect(describeFailure(new ConfigurationError('CONNECTION_URL', 'is not set')).exitCode).toBe(EXIT.CONFIG);
    expect(describeFailure(new DatabaseUnavailableError('down')).exitCode).toBe(EXIT.UNAVAILABLE);
  });

  it('treats connection failures as unavailable and redacts URLs in foreign messages', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED to postgres://u:pw@h/db'), { code: 'ECONNREFUSED' });
    expect(describeFailure(refused)).toEqual({
      message: 'cannot reach the database (ECONNREFUSED): connect ECONNREFUSED to postgres://u:***@h/db',
      exitCode: EXIT.UNAVAILABLE,
    });
  });

  it('recognises every throttling error name the SDK clients use', () => {
    for (const name of ['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException']) {
      const error = Object.assign(new Error('slow down'), { name });
      expect(describeFailure(error).exitCode).toBe(EXIT.TEMPFAIL);
    }
  });

  it('gives anything else exit 1 with its name and code', () => {
    expect(describeFailure(Object.assign(new Error('syntax error'), { code: '42601' }))).toEqual({
      message: 'Error 42601: syntax error',
      exitCode: EXIT.FAILURE,
    });
    expect(describeFailure('a string').exitCode).toBe(EXIT.FAILURE);
  });
});

describe('a command under Node.js 20', () => {
  it("prints none of the AWS SDK's NodeVersionSupportWarning, though it builds SDK clients", () => {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TMPDIR: process.env.TMPDIR,
      // An AWS endpoint nothing listens on: the command builds its client, tries once and fails fast.
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDTEST',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_MAX_ATTEMPTS: '1',
    };
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'bin/users.ts', 'reconcile', '--stage', 'prod'], {
      cwd: join(__dirname, '..', '..', '..'),
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.status).not.toBe(0);
    expect(child.stderr).toMatch(/^users: /m);
    expect(child.stderr).not.toMatch(/NodeVersionSupportWarning|Warning:/);
  });
});
