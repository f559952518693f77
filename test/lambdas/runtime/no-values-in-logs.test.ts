// Distinctive personal values (an email, a name, a handle) fed through every path that can fail, against a
// real PostgreSQL: none of them may appear in any log line or in any message thrown back to the caller.
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler as createPostConfirmation } from '../../../lambdas/post-confirmation/handler';
import { createHandler as createReplay } from '../../../lambdas/replay/handler';
import { createLogger } from '../../../lambdas/runtime/logger';
import type { SyncQueue } from '../../../lambdas/sync/sync-queue';
import { signUpMessageFor } from '../../../lambdas/sync/sign-up-message';
import { adminQuery, freePort, startMigratedServer, type TestServer } from '../../support/postgres';

const EMAIL = 'zelda.quux@nowhere.example';
const NAME = 'Zelda Quuxington';
const HANDLE = 'zeldaquux';
// Any of these in a line means a value leaked, whole or in part.
const FRAGMENTS = ['zelda', 'Zelda', 'quux', 'Quux', 'nowhere.example'];

let server: TestServer;
let url: string;
let unreachable: string;
const lines: string[] = [];
const thrown: string[] = [];
const closers: (() => Promise<void>)[] = [];

const logger = () => createLogger({}, (line) => lines.push(line));

function event(sub: string, attributes: Record<string, unknown> = {}) {
  return {
    version: '1',
    region: 'eu-west-1',
    userPoolId: 'eu-west-1_EXAMPLE1',
    userName: sub,
    callerContext: { awsSdkVersion: 'aws-sdk-unknown-unknown', clientId: '3n4b5urk1ft4fl3mg5e62d9ado' },
    triggerSource: 'PostConfirmation_ConfirmSignUp',
    request: {
      userAttributes: {
        sub,
        email: EMAIL,
        name: NAME,
        preferred_username: HANDLE,
        email_verified: 'true',
        ...attributes,
      },
    },
    response: {},
  };
}

let subs = 0;
/** A fresh, well-formed sub per case. */
function sub(): string {
  subs += 1;
  return `5f0c9a3e-8d1b-4f3a-9c2e-${String(subs).padStart(12, '0')}`;
}

async function signUp(database: string, e: unknown, fallback?: SyncQueue): Promise<void> {
  const handler = createPostConfirmation(
    { database: { connectionUrl: database } },
    { logger: logger(), ...(fallback ? { fallback } : {}) },
  );
  closers.push(handler.close);
  await handler(e, { awsRequestId: 'req-1', getRemainingTimeInMillis: () => 5000 }).catch((error: unknown) => {
    thrown.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  });
}

async function replay(bodies: string[]): Promise<void> {
  const handler = createReplay({ database: { connectionUrl: url } }, { logger: logger() });
  closers.push(handler.close);
  const records = bodies.map((body, index) => ({
    messageId: `m-${index}`,
    body,
    attributes: { ApproximateReceiveCount: '1' },
  }));
  await handler({ Records: records } as unknown as SQSEvent, { awsRequestId: 'req-2' }).catch((error: unknown) => {
    thrown.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  });
}

beforeAll(async () => {
  ({ server, url } = await startMigratedServer());
  unreachable = `postgres://postgres:postgres@127.0.0.1:${await freePort()}/postgres`;
  // Refusals whose server text quotes the value: a CHECK (DETAIL: Failing row contains (... zelda ...)) and a
  // unique index (DETAIL: Key (display_name)=(Zelda Quuxington) already exists).
  await adminQuery(
    url,
    "ALTER TABLE public.users ADD CONSTRAINT test_refuses_value CHECK (email <> 'zelda.quux@nowhere.example' OR display_name <> 'Zelda Quuxington')",
  );
  await adminQuery(url, 'CREATE UNIQUE INDEX test_unique_display_name ON public.users (display_name)');
  await adminQuery(
    url,
    "INSERT INTO public.users (cognito_user_id, email, display_name) VALUES ('00000000-0000-4000-8000-000000000001', 'other@example.com', 'Zelda Q')",
  );
}, 120_000);

afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
  await server?.destroy();
});

describe('no values in logs', () => {
  it('logs and throws none of the values on any failing path', async () => {
    // Invalid events: a malformed sub, a malformed email, an unsupported trigger.
    await signUp(url, event('not-a-sub'));
    await signUp(url, event(sub(), { email: 'zelda.quux-at-nowhere.example' }));
    await signUp(url, { ...event(sub()), triggerSource: 'PostConfirmation_zelda.quux@nowhere.example' });
    // Refused by the database: the CHECK, then the unique index.
    await signUp(url, event(sub()));
    const duplicate = sub();
    await signUp(url, event(duplicate, { email: 'zq@example.com', name: 'Zelda Q' }));
    // Database unavailable: queued (the fallback takes it), then refused by the queue with a message that quotes the body.
    const queued: unknown[] = [];
    await signUp(unreachable, event(sub()), { send: (message) => Promise.resolve(void queued.push(message)) });
    await signUp(unreachable, event(sub()), {
      send: (message) => Promise.reject(new Error(`InvalidMessageContents: ${JSON.stringify(message)}`)),
    });
    // Replay refusals: not JSON, a malformed message, and a well-formed one the database refuses.
    const refused = sub();
    const good = signUpMessageFor('PostConfirmation_ConfirmSignUp', event(refused), {
      cognitoUserId: refused,
      email: EMAIL,
      displayName: NAME,
      handle: HANDLE,
    });
    await replay([
      `{"email": "${EMAIL}", "name": "${NAME}"`,
      JSON.stringify({
        version: 1,
        triggerSource: 'PostConfirmation_ConfirmSignUp',
        userAttributes: { sub: 'not-a-sub', email: EMAIL, name: NAME },
      }),
      JSON.stringify(good),
    ]);

    // Every path above ran and said something: the test cannot pass by logging nothing.
    expect(queued).toHaveLength(1);
    expect(thrown.length).toBeGreaterThanOrEqual(5);
    expect(lines.length).toBeGreaterThanOrEqual(10);
    expect(lines.some((line) => line.includes('"errorCode":"23514"'))).toBe(true);
    expect(lines.some((line) => line.includes('"level":"ERROR"') && line.includes(`"sub":"${duplicate}"`))).toBe(true);
    expect(lines.some((line) => line.includes('"constraint":"test_refuses_value"'))).toBe(true);

    const leaks = [...lines, ...thrown].filter((text) => FRAGMENTS.some((fragment) => text.includes(fragment)));
    expect(leaks).toEqual([]);
  });
});
