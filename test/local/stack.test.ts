// End to end: the stack `npm start` runs, on free ports in a temp dir; sign-ups go through cognito-local and
// its PreSignUp and Post Confirmation triggers into the real handlers and a real PostgreSQL.
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AdminConfirmSignUpCommand,
  AdminUpdateUserAttributesCommand,
  ConfirmForgotPasswordCommand,
  ConfirmSignUpCommand,
  ForgotPasswordCommand,
  SignUpCommand,
  type CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { TAKEN_HANDLE_MESSAGE } from '../../lambdas/pre-sign-up/core';
import { cognitoWorkDir, DUMMY_CREDENTIALS, localCognitoClient, pendingConfirmationCode } from '../../local/cognito';
import { freePort } from '../../local/ports';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { FUNCTION_NAME, PRE_SIGN_UP_FUNCTION_NAME } from '../../local/stack-info';
import { loadEvent } from '../support/lambda';

let dir: string;
let stack: LocalStack;
let cognito: CognitoIdentityProviderClient;
let lambda: LambdaClient;
let db: Client;
let logLines: Record<string, unknown>[];

interface Row {
  uuid: string;
  cognito_user_id: string;
  email: string | null;
  display_name: string | null;
  handle: string | null;
}

async function rowsFor(sub: string): Promise<Row[]> {
  const result = await db.query(
    'SELECT uuid, cognito_user_id, email, display_name, handle FROM public.users WHERE cognito_user_id = $1',
    [sub],
  );
  return result.rows as Row[];
}

/** The function's own log lines for one user: proof that the trigger reached it, and with which source. */
function functionLogsFor(sub: string) {
  return logLines.filter((line) => line.service === 'post-confirmation' && line.sub === sub);
}

async function rowsWithHandle(handle: string): Promise<{ cognito_user_id: string; handle: string }[]> {
  const result = await db.query('SELECT cognito_user_id, handle FROM public.users WHERE lower(handle) = lower($1)', [
    handle,
  ]);
  return result.rows as { cognito_user_id: string; handle: string }[];
}

async function signUp(email: string, attributes: Record<string, string>): Promise<string> {
  const result = await cognito.send(
    new SignUpCommand({
      ClientId: stack.info.userPoolClientId,
      Username: email,
      Password: 'Local-only-1',
      UserAttributes: Object.entries(attributes).map(([Name, Value]) => ({ Name, Value })),
    }),
  );
  expect(result.UserConfirmed).toBe(false);
  expect(result.UserSub).toMatch(/^[0-9a-f-]{36}$/);
  return result.UserSub as string;
}

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cruddur-local-'));
  await chmod(dir, 0o755);
  // What an earlier run under a looser umask would have left: the start must tighten it.
  await mkdir(join(cognitoWorkDir(dir), '.cognito'), { recursive: true, mode: 0o755 });
  await chmod(cognitoWorkDir(dir), 0o755);
  await writeFile(join(cognitoWorkDir(dir), '.cognito', 'config.json'), '{}', { mode: 0o644 });
  await writeFile(join(cognitoWorkDir(dir), 'cognito-local.log'), '', { mode: 0o644 });
  stack = await startLocalStack({
    dir,
    pgPort: await freePort(),
    lambdaPort: await freePort(),
    cognitoPort: await freePort(),
  });
  cognito = localCognitoClient(stack.info.cognitoEndpoint);
  lambda = new LambdaClient({
    endpoint: stack.info.lambdaEndpoint,
    region: 'us-east-1',
    credentials: DUMMY_CREDENTIALS,
  });
  db = new Client({ connectionString: stack.info.connectionUrl });
  await db.connect();
});

afterAll(async () => {
  cognito?.destroy();
  lambda?.destroy();
  await db?.end();
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  logLines = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    for (const line of String(chunk).split('\n')) {
      if (line.startsWith('{')) logLines.push(JSON.parse(line) as Record<string, unknown>);
    }
    return true;
  });
});

afterEach(() => {
  for (const line of logLines) expect(JSON.stringify(line)).not.toMatch(/@example\.com|Jane Doe|Ada Lovelace/);
});

describe('the local stack', () => {
  it('writes stack.json with the endpoints, the pool and the function, and seeds the database', async () => {
    const written = JSON.parse(await readFile(join(dir, 'stack.json'), 'utf8')) as Record<string, unknown>;
    expect(written).toMatchObject({
      connectionUrl: stack.info.connectionUrl,
      cognitoEndpoint: stack.info.cognitoEndpoint,
      userPoolId: expect.stringMatching(/^local_/) as unknown,
      userPoolClientId: expect.any(String) as unknown,
      lambdaEndpoint: stack.info.lambdaEndpoint,
      functionName: FUNCTION_NAME,
    });
    const seeded = await db.query("SELECT count(*)::int AS n FROM public.users WHERE cognito_user_id LIKE 'MOCK-%'");
    expect(seeded.rows[0]).toEqual({ n: 2 });
  });

  it('inserts the user when they confirm their sign-up with the emailed code (ConfirmSignUp)', async () => {
    const email = 'jane.local@example.com';
    const sub = await signUp(email, { name: 'Jane Doe', preferred_username: 'jane_local' });
    expect(await rowsFor(sub)).toEqual([]);

    const code = await pendingConfirmationCode(dir, stack.info.userPoolId, sub);
    expect(code).toMatch(/^\d{6}$/);
    await cognito.send(
      new ConfirmSignUpCommand({ ClientId: stack.info.userPoolClientId, Username: email, ConfirmationCode: code }),
    );

    expect(await rowsFor(sub)).toEqual([
      {
        uuid: expect.any(String) as unknown,
        cognito_user_id: sub,
        email,
        display_name: 'Jane Doe',
        handle: 'jane_local',
      },
    ]);
    expect(functionLogsFor(sub)).toEqual([
      expect.objectContaining({ triggerSource: 'PostConfirmation_ConfirmSignUp', outcome: 'inserted' }),
    ]);
  });

  it('inserts the user when an administrator confirms them (AdminConfirmSignUp)', async () => {
    const email = 'ada.local@example.com';
    const sub = await signUp(email, { name: 'Ada Lovelace' });
    await cognito.send(new AdminConfirmSignUpCommand({ UserPoolId: stack.info.userPoolId, Username: email }));

    expect(await rowsFor(sub)).toEqual([
      { uuid: expect.any(String) as unknown, cognito_user_id: sub, email, display_name: 'Ada Lovelace', handle: null },
    ]);
    expect(functionLogsFor(sub)).toEqual([
      expect.objectContaining({ triggerSource: 'PostConfirmation_ConfirmSignUp', outcome: 'inserted' }),
    ]);
  });

  it('adds no second row and changes nothing when a confirmed user resets their password', async () => {
    const email = 'reset.local@example.com';
    const sub = await signUp(email, { name: 'Before Reset' });
    await cognito.send(new AdminConfirmSignUpCommand({ UserPoolId: stack.info.userPoolId, Username: email }));
    const before = await rowsFor(sub);
    expect(before).toHaveLength(1);
    // A new name in the pool: a reset that wrote anything would carry it into the row.
    await cognito.send(
      new AdminUpdateUserAttributesCommand({
        UserPoolId: stack.info.userPoolId,
        Username: email,
        UserAttributes: [{ Name: 'name', Value: 'After Reset' }],
      }),
    );

    await cognito.send(new ForgotPasswordCommand({ ClientId: stack.info.userPoolClientId, Username: email }));
    const code = await pendingConfirmationCode(dir, stack.info.userPoolId, sub);
    expect(code).toMatch(/^\d{6}$/);
    await cognito.send(
      new ConfirmForgotPasswordCommand({
        ClientId: stack.info.userPoolClientId,
        Username: email,
        ConfirmationCode: code,
        Password: 'Local-only-2',
      }),
    );

    expect(await rowsFor(sub)).toEqual(before);
    // The skipped line carries no sub (nothing was read from the event); this test's lines are all its own.
    const lines = logLines.filter((line) => line.service === 'post-confirmation');
    expect(lines.map((line) => [line.triggerSource, line.outcome])).toEqual([
      ['PostConfirmation_ConfirmSignUp', 'inserted'],
      ['PostConfirmation_ConfirmForgotPassword', 'skipped'],
    ]);
  });
});

describe('the local PreSignUp check', () => {
  it('refuses a sign-up whose handle is taken in another case, with the PreSignUp message, and writes no second row', async () => {
    const sub = await signUp('jane.handle@example.com', { name: 'Jane Doe', preferred_username: 'jane' });
    await cognito.send(
      new AdminConfirmSignUpCommand({ UserPoolId: stack.info.userPoolId, Username: 'jane.handle@example.com' }),
    );
    expect(await rowsWithHandle('jane')).toEqual([{ cognito_user_id: sub, handle: 'jane' }]);

    const refused = cognito.send(
      new SignUpCommand({
        ClientId: stack.info.userPoolClientId,
        Username: 'other.jane@example.com',
        Password: 'Local-only-1',
        UserAttributes: [{ Name: 'preferred_username', Value: 'JANE' }],
      }),
    );
    // What an app calling the SDK sees: Cognito's own error for a refusing trigger, with the function's message.
    await expect(refused).rejects.toMatchObject({
      name: 'UserLambdaValidationException',
      message: `${PRE_SIGN_UP_FUNCTION_NAME} failed with error ${TAKEN_HANDLE_MESSAGE}.`,
      $metadata: { httpStatusCode: 400 },
    });
    // Cognito closes the sentence itself: the person reads one full stop, not two.
    await expect(refused).rejects.toHaveProperty('message', expect.not.stringMatching(/\.\.$/));
    expect(await rowsWithHandle('jane')).toEqual([{ cognito_user_id: sub, handle: 'jane' }]);
    expect(
      logLines.filter((line) => line.service === 'pre-sign-up').map((line) => [line.outcome, line.reason]),
    ).toEqual([
      ['allowed', undefined],
      ['refused', 'taken'],
    ]);
  });

  it('creates no account for a refused sign-up: the same email signs up with a free handle afterwards', async () => {
    const sub = await signUp('other.jane@example.com', { preferred_username: 'other_jane' });
    await cognito.send(
      new AdminConfirmSignUpCommand({ UserPoolId: stack.info.userPoolId, Username: 'other.jane@example.com' }),
    );
    expect(await rowsWithHandle('other_jane')).toEqual([{ cognito_user_id: sub, handle: 'other_jane' }]);
  });
});

describe('the local user pool data', () => {
  it('is readable by its owner only: 0700 directories and 0600 files, also where an earlier run left them open', async () => {
    const work = cognitoWorkDir(dir);
    for (const path of [work, join(work, '.cognito'), join(work, '.cognito', 'db')])
      expect([path, await modeOf(path)]).toEqual([path, 0o700]);
    const files = [
      join(work, '.cognito', 'config.json'),
      join(work, 'cognito-local.log'),
      ...(await readdir(join(work, '.cognito', 'db'))).map((name) => join(work, '.cognito', 'db', name)),
    ];
    // The pool's own file, written by cognito-local with its users' passwords, is among them.
    expect(files).toContain(join(work, '.cognito', 'db', `${stack.info.userPoolId}.json`));
    for (const file of files) expect([file, await modeOf(file)]).toEqual([file, 0o600]);
    expect(await modeOf(join(dir, 'stack.json'))).toBe(0o600);
  });
});

describe('the Lambda Invoke API', () => {
  it('returns the event the function returns', async () => {
    const event = loadEvent('minimal-attributes');
    const result = await lambda.send(
      new InvokeCommand({ FunctionName: FUNCTION_NAME, Payload: Buffer.from(JSON.stringify(event)) }),
    );
    expect(result.StatusCode).toBe(200);
    expect(result.FunctionError).toBeUndefined();
    expect(JSON.parse(Buffer.from(result.Payload ?? []).toString('utf8'))).toEqual(event);
    expect(await rowsFor('c7e1a2b3-4d5e-4f60-8a9b-0c1d2e3f4a5b')).toHaveLength(1);
  });

  it('reports a thrown error as Lambda does: status 200, FunctionError Unhandled, errorType and errorMessage', async () => {
    const event = { ...loadEvent('confirm-sign-up'), triggerSource: 'PreSignUp_SignUp' };
    const result = await lambda.send(
      new InvokeCommand({ FunctionName: FUNCTION_NAME, Payload: Buffer.from(JSON.stringify(event)) }),
    );
    expect(result.StatusCode).toBe(200);
    expect(result.FunctionError).toBe('Unhandled');
    expect(JSON.parse(Buffer.from(result.Payload ?? []).toString('utf8'))).toEqual({
      errorType: 'UnsupportedTriggerError',
      errorMessage: 'Unsupported triggerSource: "PreSignUp_SignUp"',
    });
  });

  it('answers 404 ResourceNotFoundException for a function it does not serve', async () => {
    await expect(
      lambda.send(new InvokeCommand({ FunctionName: 'NoSuchFunction', Payload: Buffer.from('{}') })),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 404 },
    });
  });
});
