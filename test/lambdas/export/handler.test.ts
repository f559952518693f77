// The export function end to end: its handler, logged in as user_exporter to a real PostgreSQL, as it runs in
// AWS (there with an IAM token). The document goes back to the invoker; the log holds the sub and the outcome.
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InvalidSubError } from '../../../lambdas/export/core';
import { createHandler, ExportFailedError, type ExportHandler } from '../../../lambdas/export/handler';
import { settingsFromEnv } from '../../../lambdas/export/settings';
import { createLogger } from '../../../lambdas/runtime/logger';
import { fakeContext } from '../../support/lambda';
import { setRolePasswords, startMigratedServer, type TestServer } from '../../support/postgres';

// On RDS the role logs in with IAM tokens; this loopback-only test server gives it a throwaway password.
const EXPORTER_PASSWORD = 'export-local-test';
const SUB = '00000000-0000-4000-8000-000000000001';

let server: TestServer;
let admin: Client;
let exporterUrl: string;
let logLines: string[];
const handlers: ExportHandler[] = [];

beforeAll(async () => {
  let url: string;
  ({ server, url } = await startMigratedServer());
  admin = new Client({ connectionString: url });
  await admin.connect();
  await setRolePasswords(admin, ['user_exporter'], EXPORTER_PASSWORD);
  exporterUrl = `postgres://user_exporter:${EXPORTER_PASSWORD}@127.0.0.1:${server.port}/postgres`;
});

afterAll(async () => {
  await admin?.end();
  await server?.destroy();
});

beforeEach(async () => {
  await admin.query('TRUNCATE public.users, sync.erased_users RESTART IDENTITY CASCADE');
  await admin.query(
    `INSERT INTO public.users (cognito_user_id, email, display_name, handle) VALUES ($1, 'jane@example.com', 'Jane Doe', 'jane')`,
    [SUB],
  );
  await admin.query(
    `INSERT INTO public.activities (user_uuid, message) SELECT uuid, 'my secret post' FROM public.users WHERE cognito_user_id = $1`,
    [SUB],
  );
  logLines = [];
});

afterEach(async () => {
  // Never a byte of the document in the log: no email, name, handle or message.
  expect(logLines.join('\n')).not.toMatch(/jane|Jane Doe|secret post/i);
  await Promise.all(handlers.splice(0).map((handler) => handler.close()));
});

function handler(url = exporterUrl): ExportHandler {
  const created = createHandler(settingsFromEnv({ CONNECTION_URL: url }), {
    logger: createLogger({ service: 'export' }, (line) => logLines.push(line)),
  });
  handlers.push(created);
  return created;
}

describe('export handler', () => {
  it("returns the person's document and logs only the sub and the outcome", async () => {
    const result = await handler()({ sub: SUB }, fakeContext());
    expect(result).toMatchObject({ outcome: 'exported', sub: SUB });
    const document = result.outcome === 'exported' ? result.document : undefined;
    expect(document?.user).toMatchObject({ email: 'jane@example.com', display_name: 'Jane Doe', handle: 'jane' });
    expect(document?.activities.map((a) => a.message)).toEqual(['my secret post']);
    expect(logLines.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ level: 'INFO', service: 'export', sub: SUB, outcome: 'exported' }),
    ]);
  });

  it('answers not_found for a sub the database knows nothing of', async () => {
    const other = '00000000-0000-4000-8000-000000000002';
    expect(await handler()({ sub: other }, fakeContext())).toEqual({ outcome: 'not_found', sub: other });
    expect(logLines.join('\n')).toContain('"outcome":"not_found"');
  });

  it.each([
    [null, 'must be given as'],
    [{}, 'must be a string'],
    [{ sub: 'jane@example.com' }, 'must be 1-128 characters'],
    [{ sub: SUB, email: 'x' }, 'is the only field'],
  ])('refuses the input %j without quoting it', async (event, reason) => {
    const error = await handler()(event, fakeContext()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidSubError);
    expect((error as Error).message).toContain(reason);
    expect((error as Error).message).not.toContain('@');
  });

  it('returns only the error name and code when the database refuses, never its message', async () => {
    // The superuser may run it, but a role without EXECUTE is refused: the sign-up role stands in for a wrong wiring.
    await setRolePasswords(admin, ['signup_writer'], EXPORTER_PASSWORD);
    const wrongRole = `postgres://signup_writer:${EXPORTER_PASSWORD}@127.0.0.1:${server.port}/postgres`;
    const error = await handler(wrongRole)({ sub: SUB }, fakeContext({ awsRequestId: 'req-1' })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ExportFailedError);
    expect((error as Error).message).toMatch(/^export failed: \w+ \(42501\); see the log of request req-1$/);
  });
});
