// A federated person through the real trigger handlers and the writer's state path, against real PostgreSQL:
// what cognito-local cannot show (it has no federation), driven by the event fixtures a Google sign-in produces.
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { poolUserFrom } from '../../../lambdas/cognito/pool-user';
import { createHandler, type PostConfirmationHandler } from '../../../lambdas/post-confirmation/handler';
import { createHandler as createPreSignUp, type PreSignUpHandler } from '../../../lambdas/pre-sign-up/handler';
import { applyUser } from '../../../lambdas/users/postgres/postgres-users';
import { fakeContext, loadEvent } from '../../support/lambda';
import { startMigratedServer, type TestServer } from '../../support/postgres';
import { captureLogLines } from '../../support/output';

const SUB = '94a8e4c8-1071-70c1-8e3d-5c1f2a3b4d5e';
const EMAIL = 'grace.federated@example.com';

let server: TestServer;
let db: Client;
let postConfirmation: PostConfirmationHandler;
let preSignUp: PreSignUpHandler;
let logLines: string[];

async function row(sub: string) {
  const result = await db.query(
    'SELECT cognito_user_id, email, display_name, handle FROM public.users WHERE cognito_user_id = $1',
    [sub],
  );
  return result.rows[0] as Record<string, unknown> | undefined;
}

beforeAll(async () => {
  const started = await startMigratedServer();
  server = started.server;
  db = new Client({ connectionString: started.url });
  await db.connect();
  postConfirmation = createHandler({ database: { connectionUrl: started.url } });
  preSignUp = createPreSignUp({ database: { connectionUrl: started.url } });
});

afterAll(async () => {
  await postConfirmation?.close();
  await preSignUp?.close();
  await db?.end();
  await server?.destroy();
});

beforeEach(async () => {
  await db.query('TRUNCATE public.users CASCADE');
  logLines = captureLogLines();
});

afterEach(() => {
  for (const line of logLines) expect(line).not.toMatch(/@example\.com|Grace Federated|112233445566778899001/);
});

describe('a federated first sign-in', () => {
  it('passes PreSignUp_ExternalProvider unchanged, even with a preferred_username no handle may be', async () => {
    const event = loadEvent('pre-sign-up-external-provider');
    const before = structuredClone(event);
    await expect(preSignUp(event, fakeContext())).resolves.toBe(event);
    expect(event).toEqual(before);
    expect(logLines.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ triggerSource: 'PreSignUp_ExternalProvider', outcome: 'skipped' }),
    ]);
  });

  it('passes PreSignUp_ExternalProvider when its preferred_username is a handle someone holds', async () => {
    await db.query("INSERT INTO public.users (cognito_user_id, handle) VALUES ('someone', 'grace')");
    const event = loadEvent('pre-sign-up-external-provider');
    event.request.userAttributes.preferred_username = 'grace';
    await expect(preSignUp(event, fakeContext())).resolves.toBe(event);
  });

  it('is written by its sub, not its Google_ user name, with no handle: its preferred_username is its email', async () => {
    const event = loadEvent('federated-confirm-sign-up');
    expect(event.userName).not.toBe(SUB);
    await expect(postConfirmation(event, fakeContext())).resolves.toBe(event);
    expect(await row(SUB)).toEqual({
      cognito_user_id: SUB,
      email: EMAIL,
      display_name: 'Grace Federated',
      handle: null,
    });
    expect(await row(event.userName!)).toBeUndefined();
    expect(logLines.map((line) => JSON.parse(line) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({ sub: SUB, outcome: 'inserted' }),
    );
  });

  it('keeps the handle the app gave it when the pool’s state, email as preferred_username, is written again', async () => {
    await postConfirmation(loadEvent('federated-confirm-sign-up'), fakeContext());
    await db.query('UPDATE public.users SET handle = $1 WHERE cognito_user_id = $2', ['grace_h', SUB]);
    // What ListUsers or AdminGetUser answer for this user after their next sign-in (Cognito rewrote the mapping).
    const user = poolUserFrom({
      Username: 'Google_112233445566778899001',
      UserStatus: 'EXTERNAL_PROVIDER',
      Enabled: true,
      Attributes: [
        { Name: 'sub', Value: SUB },
        { Name: 'email', Value: EMAIL },
        { Name: 'name', Value: 'Grace F.' },
        { Name: 'preferred_username', Value: EMAIL },
      ],
    });
    await applyUser(db, user, new Date());
    expect(await row(SUB)).toMatchObject({ display_name: 'Grace F.', handle: 'grace_h' });
  });
});
