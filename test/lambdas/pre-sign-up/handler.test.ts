import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHandler, type PreSignUpHandler } from '../../../lambdas/pre-sign-up/handler';
import { InvalidEventError } from '../../../lambdas/runtime/errors';
import { HandleRefusedError, UnsupportedTriggerError } from '../../../lambdas/cognito/errors';
import { fakeContext } from '../../support/lambda';
import { startMigratedServer, type TestServer } from '../../support/postgres';
import { captureLogLines } from '../../support/output';

let server: TestServer;
let db: Client;
let handler: PreSignUpHandler;
let logLines: string[];

function preSignUp(attributes: Record<string, unknown>, triggerSource = 'PreSignUp_SignUp') {
  return {
    version: '1',
    region: 'us-east-1',
    userPoolId: 'us-east-1_EXAMPLE1',
    userName: 'd1f0a2b3-0000-4000-8000-000000000001',
    callerContext: { awsSdkVersion: 'aws-sdk-unknown-unknown', clientId: '3n4b5urk1ft4fl3mg5e62d9ado' },
    triggerSource,
    request: {
      userAttributes: { email: 'signer.upper@example.com', name: 'Signer Upper', ...attributes },
      validationData: null,
    },
    response: { autoConfirmUser: false, autoVerifyEmail: false, autoVerifyPhone: false },
  };
}

function entries(): Record<string, unknown>[] {
  return logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

beforeAll(async () => {
  const started = await startMigratedServer();
  server = started.server;
  db = new Client({ connectionString: started.url });
  db.on('error', () => undefined);
  await db.connect();
  handler = createHandler({ database: { connectionUrl: started.url } });
});

afterAll(async () => {
  await handler?.close();
  await db?.end().catch(() => undefined);
  await server?.destroy();
});

beforeEach(async () => {
  await db.query('TRUNCATE public.users CASCADE');
  await db.query("INSERT INTO public.users (cognito_user_id, handle) VALUES ('existing-1', 'TakenHandle')");
  logLines = captureLogLines();
});

afterEach(() => {
  for (const line of logLines)
    expect(line).not.toMatch(/@example\.com|Signer Upper|TakenHandle|takenhandle|free_handle|bad handle/i);
});

describe('pre-sign-up handler', () => {
  it('lets a free, well-formed handle through and returns the event unchanged', async () => {
    const event = preSignUp({ preferred_username: 'free_handle' });
    const before = structuredClone(event);
    await expect(handler(event, fakeContext())).resolves.toBe(event);
    expect(event).toEqual(before);
    expect(entries()).toContainEqual(
      expect.objectContaining({ outcome: 'allowed', triggerSource: 'PreSignUp_SignUp' }),
    );
  });

  it('holds no database connection between sign-ups', async () => {
    await handler(preSignUp({ preferred_username: 'free_handle' }), fakeContext());
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pre-sign-up'",
    );
    expect(rows[0]?.n).toBe(0);
    expect(entries()).toContainEqual(expect.objectContaining({ outcome: 'allowed' }));
  });

  it.each(['takenhandle', 'TAKENHANDLE', 'TakenHandle'])(
    'refuses %s, taken in another case, with a clear message',
    async (handle) => {
      const error = await handler(preSignUp({ preferred_username: handle }), fakeContext()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HandleRefusedError);
      expect(error).toMatchObject({ reason: 'taken' });
      // Cognito adds its own full stop after the message ("... failed with error <message>."): none here.
      expect((error as Error).message).toBe('The handle (preferred_username) is already taken; choose another one');
      expect(entries()).toContainEqual(expect.objectContaining({ outcome: 'refused', reason: 'taken' }));
      expect(entries().some((entry) => entry.level === 'ERROR')).toBe(false);
    },
  );

  it.each([
    ['too short', 'ab'],
    ['too long', 'a'.repeat(33)],
    ['with a space', 'bad handle'],
    ['with a dash', 'bad-handle'],
    ['with non-ASCII letters', 'zoë'],
    ['with an emoji', 'cat_🐈'],
    ['with a zero-width space', 'bad\u200bhandle'],
    ['with SQL', "x' OR '1'='1"],
    ['with a newline', 'bad\nhandle'],
  ])('refuses a handle %s as invalid, before asking the database', async (_name, handle) => {
    const error = await handler(preSignUp({ preferred_username: handle }), fakeContext()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandleRefusedError);
    expect(error).toMatchObject({ reason: 'invalid' });
    expect((error as Error).message).toBe(
      'The handle (preferred_username) must be 3 to 32 characters: letters A-Z, digits 0-9 or underscore',
    );
  });

  it.each(['abc', 'a'.repeat(32), 'Under_score_9'])('accepts the boundary handle %s', async (handle) => {
    await expect(handler(preSignUp({ preferred_username: handle }), fakeContext())).resolves.toBeDefined();
  });

  it.each([undefined, null, ''])('lets a sign-up without a handle (%s) through', async (handle) => {
    await expect(handler(preSignUp({ preferred_username: handle }), fakeContext())).resolves.toBeDefined();
  });

  it('checks an admin-created user too', async () => {
    const error = await handler(preSignUp({ preferred_username: 'takenhandle' }, 'PreSignUp_AdminCreateUser')).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HandleRefusedError);
    expect(error).toMatchObject({ reason: 'taken' });
  });

  it('lets a federated sign-up through unchecked: the person cannot choose the handle the provider sends', async () => {
    const event = preSignUp({ preferred_username: 'takenhandle' }, 'PreSignUp_ExternalProvider');
    await expect(handler(event)).resolves.toBe(event);
    expect(entries()).toContainEqual(expect.objectContaining({ outcome: 'skipped' }));
  });

  it.each([
    ['a null event', null, InvalidEventError],
    ['a post-confirmation event', preSignUp({}, 'PostConfirmation_ConfirmSignUp'), UnsupportedTriggerError],
    ['no request', { ...preSignUp({}), request: undefined }, InvalidEventError],
    ['no attributes', { ...preSignUp({}), request: {} }, InvalidEventError],
    ['a numeric handle', preSignUp({ preferred_username: 42 }), InvalidEventError],
  ])('refuses %s with a typed error', async (_name, event, type) => {
    await expect(handler(event, fakeContext())).rejects.toBeInstanceOf(type);
    expect(entries()).toContainEqual(expect.objectContaining({ level: 'ERROR', errorName: type.name }));
  });

  it('lets the sign-up through when the database is down, logging that the handle was not checked', async () => {
    await server.stop();
    try {
      const event = preSignUp({ preferred_username: 'takenhandle' });
      await expect(handler(event, fakeContext())).resolves.toBe(event);
      expect(entries()).toContainEqual(
        expect.objectContaining({ level: 'WARN', outcome: 'allowed_unchecked', errorName: 'DatabaseUnavailableError' }),
      );
    } finally {
      await server.start();
      db = new Client({ connectionString: server.url() });
      db.on('error', () => undefined);
      await db.connect();
    }
  });

  it('lets the sign-up through, within the budget, when a lock hangs the lookup', async () => {
    const holder = new Client({ connectionString: server.url() });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE public.users IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      await expect(handler(preSignUp({ preferred_username: 'takenhandle' }), fakeContext())).resolves.toBeDefined();
      expect(Date.now() - started).toBeLessThan(4500);
      expect(entries()).toContainEqual(expect.objectContaining({ outcome: 'allowed_unchecked' }));
    } finally {
      await holder.end();
    }
  });
});
