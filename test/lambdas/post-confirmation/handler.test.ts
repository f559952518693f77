import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  COGNITO_BUDGET_MS,
  createHandler,
  RESPONSE_MARGIN_MS,
  type PostConfirmationHandler,
} from '../../../lambdas/post-confirmation/handler';
import { InvalidEventError } from '../../../lambdas/runtime/errors';
import { DatabaseUnavailableError } from '../../../lambdas/postgres/errors';
import { UnsupportedTriggerError } from '../../../lambdas/cognito/errors';
import { createLogger } from '../../../lambdas/runtime/logger';
import type { SendOptions } from '../../../lambdas/sync/sync-queue';
import type { WriteOptions } from '../../../lambdas/users/users-repository';
import { fakeContext, loadEvent, signUpEvent } from '../../support/lambda';
import { startMigratedServer, type TestServer } from '../../support/postgres';
import { captureLogLines } from '../../support/output';

let server: TestServer;
let db: Client;
let handler: PostConfirmationHandler;
let logLines: string[];

async function rows() {
  const result = await db.query(
    'SELECT cognito_user_id, email, display_name, handle FROM public.users ORDER BY created_at, cognito_user_id',
  );
  return result.rows as {
    cognito_user_id: string;
    email: string | null;
    display_name: string | null;
    handle: string | null;
  }[];
}

function sub(n: number): string {
  return `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`;
}

beforeAll(async () => {
  const started = await startMigratedServer();
  server = started.server;
  db = new Client({ connectionString: started.url });
  await db.connect();
  handler = createHandler({ database: { connectionUrl: started.url } });
});

afterAll(async () => {
  await handler?.close();
  await db?.end();
  await server?.destroy();
});

beforeEach(async () => {
  await db.query('TRUNCATE public.users CASCADE');
  logLines = captureLogLines();
});

afterEach(() => {
  // Whatever happened, no log line may carry a user's personal data.
  for (const line of logLines) {
    expect(line).not.toMatch(/@example\.com|Jane Doe|janedoe|Robert|DROP TABLE|山田/);
  }
});

describe('post-confirmation handler', () => {
  it('inserts a confirmed user with the mapped attributes and returns the event unchanged', async () => {
    const event = loadEvent('confirm-sign-up');
    const before = structuredClone(event);
    const returned = await handler(event, fakeContext());
    expect(returned).toBe(event);
    expect(event).toEqual(before);
    expect(await rows()).toEqual([
      {
        cognito_user_id: '5f0c9a3e-8d1b-4f3a-9c2e-7b6d5a4c3b21',
        email: 'jane.doe@example.com',
        display_name: 'Jane Doe',
        handle: 'janedoe',
      },
    ]);
  });

  it('inserts a user from an AdminConfirmSignUp event', async () => {
    await handler(loadEvent('admin-confirm-sign-up'), fakeContext());
    expect(await rows()).toEqual([
      {
        cognito_user_id: '9b2d4f6a-1c3e-4a5b-8d7f-0e9c8b7a6d54',
        email: 'ramon@example.com',
        display_name: 'Ramón Ñúñez 山田',
        handle: 'ramon',
      },
    ]);
  });

  it('stores NULLs for a user with only a sub', async () => {
    await handler(loadEvent('minimal-attributes'), fakeContext());
    expect(await rows()).toEqual([
      { cognito_user_id: 'c7e1a2b3-4d5e-4f60-8a9b-0c1d2e3f4a5b', email: null, display_name: null, handle: null },
    ]);
  });

  it('inserts one row when the same event arrives three times in sequence', async () => {
    const event = loadEvent('confirm-sign-up');
    for (let i = 0; i < 3; i += 1) await handler(event, fakeContext());
    expect(await rows()).toHaveLength(1);
  });

  it('inserts one row when the same event arrives three times at once', async () => {
    const event = loadEvent('confirm-sign-up');
    await Promise.all([handler(event), handler(event), handler(event)]);
    expect(await rows()).toHaveLength(1);
  });

  it('writes nothing for a forgot-password confirmation', async () => {
    const event = loadEvent('forgot-password');
    await expect(handler(event, fakeContext())).resolves.toBe(event);
    expect(await rows()).toEqual([]);
  });

  it('adds no second row when a user who signed up resets the password', async () => {
    await handler(loadEvent('confirm-sign-up'), fakeContext());
    await handler(loadEvent('forgot-password'), fakeContext());
    expect(await rows()).toHaveLength(1);
  });

  it('stores SQL-injection strings literally', async () => {
    const name = "Robert'); DROP TABLE public.users;--";
    await handler(signUpEvent({ sub: sub(1), name, email: 'a\'b"c\\@example.com' }));
    expect(await rows()).toEqual([
      { cognito_user_id: sub(1), email: 'a\'b"c\\@example.com', display_name: name, handle: 'janedoe' },
    ]);
  });

  it('stores unicode names exactly', async () => {
    const name = 'Zoë 🦄 Ünïcödé حسن 山田 e\u0301';
    await handler(signUpEvent({ sub: sub(2), name }));
    expect(await rows()).toEqual([
      { cognito_user_id: sub(2), email: 'jane.doe@example.com', display_name: name, handle: 'janedoe' },
    ]);
  });

  it.each([
    ['quotes', "x' OR '1'='1"],
    ['non-ASCII letters', 'zoë_🦄'],
    ['a lone surrogate', 'ab\uD800'],
  ])('stores the user with no handle, logged as refused by sub, when the handle holds %s', async (_what, handle) => {
    await handler(signUpEvent({ sub: sub(4), preferred_username: handle }), fakeContext());
    expect(await rows()).toEqual([
      { cognito_user_id: sub(4), email: 'jane.doe@example.com', display_name: 'Jane Doe', handle: null },
    ]);
    const entries = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries).toContainEqual(
      expect.objectContaining({ level: 'INFO', sub: sub(4), outcome: 'inserted', handleRefused: true }),
    );
  });

  it('leaves an existing row to the writer and the reconcile when a later event carries new values', async () => {
    await handler(signUpEvent({ sub: sub(3) }));
    const before = await rows();
    await handler(
      signUpEvent({ sub: sub(3), email: 'new@example.com', name: 'Jane Q. Doe', preferred_username: 'other' }),
    );
    expect(await rows()).toEqual(before);
  });

  it('logs structured JSON with sub and triggerSource only', async () => {
    await handler(loadEvent('confirm-sign-up'), fakeContext());
    const entries = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries).toContainEqual(
      expect.objectContaining({
        level: 'INFO',
        sub: '5f0c9a3e-8d1b-4f3a-9c2e-7b6d5a4c3b21',
        triggerSource: 'PostConfirmation_ConfirmSignUp',
        outcome: 'inserted',
        requestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
      }),
    );
  });
});

describe('handle uniqueness', () => {
  it('gives both users their row when they ask for the same handle in different case', async () => {
    await handler(signUpEvent({ sub: sub(10), preferred_username: 'Bob' }));
    await handler(signUpEvent({ sub: sub(11), preferred_username: 'bob' }));
    expect((await rows()).map((row) => [row.cognito_user_id, row.handle])).toEqual([
      [sub(10), 'Bob'],
      [sub(11), 'bob_00000000'],
    ]);
  });

  it('falls back to a handle made of the sub, then to no handle, as more users ask for the same one', async () => {
    // The second sub shares its first 8 hex digits with the first, so the short suffix collides too.
    const a = '11111111-aaaa-4000-8000-000000000001';
    const b = '11111111-bbbb-4000-8000-000000000002';
    await handler(signUpEvent({ sub: a, preferred_username: 'sam' }));
    await handler(signUpEvent({ sub: sub(20), preferred_username: 'sam_11111111' }));
    await handler(signUpEvent({ sub: b, preferred_username: 'SAM' }));
    const handles = Object.fromEntries((await rows()).map((row) => [row.cognito_user_id, row.handle]));
    expect(handles).toEqual({ [a]: 'sam', [sub(20)]: 'sam_11111111', [b]: 'u_11111111bbbb400080000000000000' });
  });

  it('cuts a long handle so that its suffixed form stays within 32 characters', async () => {
    const long = 'x'.repeat(32);
    await handler(signUpEvent({ sub: sub(25), preferred_username: long }));
    await handler(signUpEvent({ sub: sub(26), preferred_username: long.toUpperCase() }));
    expect((await rows()).map((row) => row.handle)).toEqual([long, `${'X'.repeat(23)}_00000000`]);
  });

  it('stores the user without a handle when every candidate is taken', async () => {
    const s = sub(30);
    const hex = s.replace(/-/g, '');
    await handler(signUpEvent({ sub: sub(31), preferred_username: 'kim' }));
    await handler(signUpEvent({ sub: sub(32), preferred_username: `kim_${hex.slice(0, 8)}` }));
    await handler(signUpEvent({ sub: sub(33), preferred_username: `u_${hex.slice(0, 30)}` }));
    await handler(signUpEvent({ sub: s, preferred_username: 'kim' }));
    const handles = Object.fromEntries((await rows()).map((row) => [row.cognito_user_id, row.handle]));
    expect(handles[s]).toBeNull();
    expect(Object.keys(handles)).toHaveLength(4);
  });

  it('keeps one row and the adjusted handle when the adjusted user is retried', async () => {
    await handler(signUpEvent({ sub: sub(40), preferred_username: 'lee' }));
    const second = signUpEvent({ sub: sub(41), preferred_username: 'lee' });
    await handler(second);
    await handler(second);
    expect((await rows()).map((row) => row.handle)).toEqual(['lee', 'lee_00000000']);
  });

  it('gives every one of ten concurrent sign-ups with the same handle a row', async () => {
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        handler(signUpEvent({ sub: `${i}2345678-0000-4000-8000-00000000000${i}`, preferred_username: 'crowd' })),
      ),
    );
    const stored = await rows();
    expect(stored).toHaveLength(10);
    expect(new Set(stored.map((row) => row.handle?.toLowerCase())).size).toBe(10);
  });
});

describe('malformed events', () => {
  const cases: [string, () => unknown, string | RegExp][] = [
    ['a null event', () => null, 'event'],
    ['an array event', () => [], 'event'],
    ['no triggerSource', () => ({ request: { userAttributes: { sub: sub(50) } } }), 'triggerSource'],
    ['a numeric triggerSource', () => ({ triggerSource: 7, request: {} }), 'triggerSource'],
    ['no request', () => ({ triggerSource: 'PostConfirmation_ConfirmSignUp' }), 'request'],
    ['a string request', () => ({ triggerSource: 'PostConfirmation_ConfirmSignUp', request: 'x' }), 'request'],
    [
      'no userAttributes',
      () => ({ triggerSource: 'PostConfirmation_ConfirmSignUp', request: {} }),
      'request.userAttributes',
    ],
    ['a missing sub', () => signUpEvent({ sub: undefined }), 'request.userAttributes.sub'],
    ['an empty sub', () => signUpEvent({ sub: '' }), 'request.userAttributes.sub'],
    ['a numeric sub', () => signUpEvent({ sub: 12345 }), 'request.userAttributes.sub'],
    [
      'a sub with a newline (log forging)',
      () => signUpEvent({ sub: 'abc\n{"level":"INFO"}' }),
      'request.userAttributes.sub',
    ],
    [
      'a non-string email',
      () => signUpEvent({ sub: sub(51), email: ['a@example.com'] }),
      'request.userAttributes.email',
    ],
    ['an object name', () => signUpEvent({ sub: sub(52), name: { first: 'x' } }), 'request.userAttributes.name'],
    [
      'a boolean handle',
      () => signUpEvent({ sub: sub(53), preferred_username: true }),
      'request.userAttributes.preferred_username',
    ],
    ['a NUL in the name', () => signUpEvent({ sub: sub(54), name: 'Jane\u0000Doe' }), 'request.userAttributes.name'],
    [
      'a lone surrogate in the email',
      () => signUpEvent({ sub: sub(55), email: 'ab\uD800@example.com' }),
      'request.userAttributes.email',
    ],
    [
      'an absurdly long name',
      () => signUpEvent({ sub: sub(56), name: 'x'.repeat(100_000) }),
      'request.userAttributes.name',
    ],
    ['an absurdly long sub', () => signUpEvent({ sub: 'a'.repeat(500) }), 'request.userAttributes.sub'],
  ];

  it.each(cases)(
    'refuses %s with an InvalidEventError naming the field, writing nothing',
    async (_label, make, field) => {
      const error = await handler(make(), fakeContext()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidEventError);
      expect(error).toMatchObject({ field });
      expect((error as Error).message).toContain(field);
      expect(await rows()).toEqual([]);
      expect(logLines.some((line) => line.includes('"level":"ERROR"') && line.includes('InvalidEventError'))).toBe(
        true,
      );
    },
  );

  it.each(['PreSignUp_SignUp', 'PostConfirmation_Something', 'CustomMessage_SignUp'])(
    'refuses triggerSource %s with an UnsupportedTriggerError, writing nothing',
    async (triggerSource) => {
      const event = { ...loadEvent('confirm-sign-up'), triggerSource };
      const error = await handler(event, fakeContext()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnsupportedTriggerError);
      expect(error).toMatchObject({ triggerSource });
      expect(await rows()).toEqual([]);
    },
  );
});

describe('connection lifecycle', () => {
  it('reuses one connection across invocations', async () => {
    for (let i = 0; i < 5; i += 1) await handler(signUpEvent({ sub: sub(60 + i), preferred_username: null }));
    const { rows: sessions } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'post-confirmation'",
    );
    expect(sessions[0]?.n).toBe(1);
  });

  it('closes its connection on close() and opens a new one for the next event', async () => {
    await handler(signUpEvent({ sub: sub(65), preferred_username: null }));
    await handler.close();
    const sessions = async () =>
      (
        await db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'post-confirmation'",
        )
      ).rows[0]?.n;
    // The server ends the backend just after the client says goodbye.
    for (let i = 0; i < 50 && (await sessions()) !== 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await sessions()).toBe(0);
    await handler(signUpEvent({ sub: sub(66), preferred_username: null }));
    expect((await rows()).map((row) => row.cognito_user_id)).toEqual([sub(65), sub(66)]);
  });

  it('reconnects transparently when the server restarts between two invocations', async () => {
    await handler(signUpEvent({ sub: sub(70), preferred_username: null }));
    await db.end();
    await server.stop();
    await server.start();
    db = new Client({ connectionString: server.url() });
    await db.connect();
    await handler(signUpEvent({ sub: sub(71), preferred_username: null }));
    expect((await rows()).map((row) => row.cognito_user_id)).toEqual([sub(70), sub(71)]);
  });

  it('reconnects transparently when the server kills the idle connection', async () => {
    await handler(signUpEvent({ sub: sub(80), preferred_username: null }));
    await db.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'post-confirmation'",
    );
    await handler(signUpEvent({ sub: sub(81), preferred_username: null }));
    expect((await rows()).map((row) => row.cognito_user_id)).toEqual([sub(80), sub(81)]);
  });

  it('hides a raw database error from the caller behind a generic message with the request id', async () => {
    await db.query('ALTER TABLE public.users ADD CONSTRAINT refuse_everyone CHECK (false) NOT VALID');
    try {
      const error = await handler(signUpEvent({ sub: sub(90) }), fakeContext()).catch((e: unknown) => e);
      expect((error as Error).message).toBe(
        'Internal error while saving the user (request c6af9ac6-7b61-11e6-9a41-93e812345678)',
      );
      const failed = logLines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((entry) => entry.message === 'post-confirmation failed');
      expect(failed).toMatchObject({ level: 'ERROR', sub: sub(90), errorName: 'UserRefusedError', errorCode: '23514' });
    } finally {
      await db.query('ALTER TABLE public.users DROP CONSTRAINT refuse_everyone');
    }
  });
});

describe('a database that refuses the login', () => {
  it('queues the sign-up and logs at ERROR that the deploy is broken, by sub and class', async () => {
    const queued: unknown[] = [];
    const refused = createHandler(
      { database: { connectionUrl: `postgres://not_a_role:wrong@127.0.0.1:${server.port}/postgres` } },
      {
        fallback: {
          send: (message) => {
            queued.push(message);
            return Promise.resolve();
          },
        },
      },
    );
    try {
      const event = signUpEvent({ sub: sub(95) });
      await expect(refused(event, fakeContext())).resolves.toBe(event);
    } finally {
      await refused.close();
    }
    expect(queued).toHaveLength(1);
    const entries = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries).toContainEqual(
      expect.objectContaining({
        level: 'ERROR',
        sub: sub(95),
        outcome: 'queued',
        failureClass: 'permanent',
        errorClass: 'login-refused',
      }),
    );
  });
});

describe('one deadline per event', () => {
  it('stops waiting for a locked table at the event’s deadline and queues the sign-up within it', async () => {
    const queued: unknown[] = [];
    const deadlined = createHandler(
      { database: { connectionUrl: server.url() } },
      {
        fallback: {
          send: (message) => {
            queued.push(message);
            return Promise.resolve();
          },
        },
      },
    );
    const holder = new Client({ connectionString: server.url() });
    await holder.connect();
    try {
      await deadlined(signUpEvent({ sub: sub(96), preferred_username: null }), fakeContext());
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE public.users IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      // 1 s left of the function: the deadline is 700 ms away, well inside the connection's own 3 s budget.
      await deadlined(signUpEvent({ sub: sub(97) }), fakeContext({ getRemainingTimeInMillis: () => 1000 }));
      const took = Date.now() - started;
      expect(queued).toHaveLength(1);
      expect(took).toBeGreaterThanOrEqual(600);
      expect(took).toBeLessThan(1000);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
      await deadlined.close();
    }
  });

  it('gives the statement and the fallback send one deadline: Cognito’s budget or the function’s end, less a margin', async () => {
    let now = 1_000;
    const deadlines: (number | undefined)[] = [];
    const readAts: number[] = [];
    const timeouts: (number | undefined)[] = [];
    const users = {
      signUp: (_user: unknown, readAt: Date, options?: WriteOptions) => {
        readAts.push(readAt.getTime());
        deadlines.push(options?.deadline);
        now += 1200;
        return Promise.reject(new DatabaseUnavailableError('down'));
      },
    };
    const fallback = {
      send: (_message: unknown, options?: SendOptions) => {
        timeouts.push(options?.timeoutMs);
        return Promise.resolve();
      },
    };
    const budgeted = createHandler(
      { database: { connectionUrl: 'postgres://u:p@127.0.0.1:9/unused' } },
      { users, fallback, clock: () => now, logger: createLogger({}, () => undefined) },
    );
    await budgeted(loadEvent('confirm-sign-up'), fakeContext({ getRemainingTimeInMillis: () => 10_000 }));
    await budgeted(loadEvent('confirm-sign-up'), fakeContext({ getRemainingTimeInMillis: () => 2_000 }));
    expect(readAts).toEqual([1_000, 2_200]);
    expect(deadlines).toEqual([1_000 + COGNITO_BUDGET_MS - RESPONSE_MARGIN_MS, 2_200 + 2_000 - RESPONSE_MARGIN_MS]);
    expect(timeouts).toEqual([COGNITO_BUDGET_MS - 1200 - RESPONSE_MARGIN_MS, 2_000 - 1200 - RESPONSE_MARGIN_MS]);
    expect(await rows()).toEqual([]);
  });
});
