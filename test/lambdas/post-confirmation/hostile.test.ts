// Every fixture in events/hostile through the real handler and a real database: a clear error naming the
// field (or the intended skip, or the literal row), nothing half-written, and no personal data in any log line.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHandler, type PostConfirmationHandler } from '../../../lambdas/post-confirmation/handler';
import { InvalidEventError } from '../../../lambdas/runtime/errors';
import { UnsupportedTriggerError } from '../../../lambdas/cognito/errors';
import { parseSignUpMessage } from '../../../lambdas/sync/sign-up-message';
import { SUB_PATTERN } from '../../../lambdas/cognito/sub';
import { fakeContext } from '../../support/lambda';
import { startMigratedServer, type TestServer } from '../../support/postgres';
import { captureLogLines } from '../../support/output';

// The error a fixture expects, by the class name it gives.
const ERRORS = { InvalidEventError, UnsupportedTriggerError } as const;

type Expectation =
  | { readonly error: keyof typeof ERRORS; readonly field?: string }
  | { readonly skip: true }
  // handleRefused: the handle was outside the pattern, so the row has none and the log line says so by sub.
  | { readonly stored: Record<string, string | null>; readonly handleRefused?: true };

interface HostileCase {
  readonly name: string;
  readonly expect: Expectation;
  readonly event: unknown;
}

const HOSTILE_DIR = join(__dirname, '..', '..', '..', 'events', 'hostile');

function loadCorpus(): HostileCase[] {
  return readdirSync(HOSTILE_DIR)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => {
      const { expect: expectation, event } = JSON.parse(readFileSync(join(HOSTILE_DIR, file), 'utf8')) as Omit<
        HostileCase,
        'name'
      >;
      return { name: file.replace(/\.json$/, ''), expect: expectation, event };
    });
}

// Values that are not personal data: Cognito's own envelope, and subs that are valid ids (the one identifier
// logs are meant to carry).
const NOT_PERSONAL_KEYS = new Set([
  'triggerSource',
  'version',
  'region',
  'userPoolId',
  'clientId',
  'awsSdkVersion',
  'email_verified',
  'cognito:user_status',
]);

/** Every string a fixture holds that could be personal data, found by walking it (so none can be forgotten). */
function personalStrings(value: unknown, key = ''): string[] {
  if (typeof value === 'string') {
    if (NOT_PERSONAL_KEYS.has(key)) return [];
    if ((key === 'sub' || key === 'userName') && SUB_PATTERN.test(value)) return [];
    return value.length >= 4 ? [value] : [];
  }
  if (typeof value !== 'object' || value === null) return [];
  // Deeply nested fixtures: walking 1000 levels is fine, but recursion depth is bounded by the fixture itself.
  return Object.entries(value).flatMap(([k, v]) => personalStrings(v, k));
}

/** The forms a string takes in a JSON log line: as is, JSON-escaped, and a distinctive prefix of either. */
function needles(text: string): string[] {
  const escaped = JSON.stringify(text).slice(1, -1);
  const forms = new Set([text, escaped]);
  if (text.length > 16) {
    forms.add(text.slice(0, 16));
    forms.add(escaped.slice(0, 16));
  }
  return [...forms];
}

const corpus = loadCorpus();
let server: TestServer;
let db: Client;
let handler: PostConfirmationHandler;
let logLines: string[];

async function rows() {
  const result = await db.query('SELECT cognito_user_id, email, display_name, handle FROM public.users');
  return result.rows as Record<string, string | null>[];
}

beforeAll(async () => {
  const started = await startMigratedServer();
  server = started.server;
  db = new Client({ connectionString: started.url });
  await db.connect();
  // No fallback queue: every refusal must reach the caller.
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

describe('the hostile event corpus', () => {
  it('holds at least 40 malformed or hostile events, each with an expected outcome', () => {
    const refused = corpus.filter((c) => 'error' in c.expect || 'skip' in c.expect);
    expect(refused.length).toBeGreaterThanOrEqual(40);
    for (const c of corpus)
      expect(
        ['error', 'skip', 'stored'].filter((k) => k in c.expect),
        c.name,
      ).toHaveLength(1);
  });

  it.each(corpus.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const outcome = await handler(c.event, fakeContext()).then(
      (returned) => ({ returned }),
      (error: unknown) => ({ error }),
    );

    if ('error' in c.expect) {
      const errorName = c.expect.error;
      expect(outcome).toHaveProperty('error');
      const error = (outcome as { error: Error & { field?: string } }).error;
      expect(error).toBeInstanceOf(ERRORS[errorName]);
      if (c.expect.field !== undefined) {
        expect(error.field).toBe(c.expect.field);
        expect(error.message).toContain(c.expect.field);
      }
      expect(await rows()).toEqual([]);
      expect(logLines.some((line) => line.includes('"level":"ERROR"') && line.includes(errorName))).toBe(true);
    } else if ('skip' in c.expect) {
      expect(outcome).toEqual({ returned: c.event });
      expect(await rows()).toEqual([]);
      expect(logLines.some((line) => line.includes('"outcome":"skipped"'))).toBe(true);
    } else {
      expect(outcome).toEqual({ returned: c.event });
      expect(await rows()).toEqual([c.expect.stored]);
      const written = logLines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((entry) => entry.message === 'user written');
      expect(written).toEqual([
        expect.objectContaining({
          sub: c.expect.stored.cognito_user_id,
          handleRefused: c.expect.handleRefused === true,
        }),
      ]);
    }

    // One log line per write, each a single line of JSON: a newline in the input cannot forge an entry.
    expect(logLines.length).toBeGreaterThan(0);
    for (const line of logLines) {
      expect(line.endsWith('\n')).toBe(true);
      expect(line.slice(0, -1)).not.toMatch(/[\r\n\u2028\u2029]/);
      expect(() => JSON.parse(line) as unknown).not.toThrow();
    }
    const logged = logLines.join('');
    const thrown = 'error' in outcome ? String((outcome.error as Error).message) : '';
    for (const text of personalStrings(c.event)) {
      for (const needle of needles(text)) {
        expect(logged.includes(needle), `log holds personal data from ${c.name}`).toBe(false);
        expect(thrown.includes(needle), `error message holds personal data from ${c.name}`).toBe(false);
      }
    }
    // No fixture may reach Object.prototype, whatever keys it uses.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).sub).toBeUndefined();
  });
});

describe('the hostile attributes as replay messages', () => {
  // A queued message crossed a trust boundary too: the replay function validates its attributes the same way.
  const attributeCases = corpus.filter(
    (c) =>
      'error' in c.expect &&
      c.expect.field?.startsWith('request.userAttributes.') &&
      c.expect.field !== 'request.userAttributes.sub',
  );
  const subCases = corpus.filter((c) => 'error' in c.expect && c.expect.field === 'request.userAttributes.sub');

  it.each([...attributeCases, ...subCases].map((c) => [c.name, c] as const))(
    '%s is refused naming the same attribute',
    (_name, c) => {
      const attributes = (c.event as { request: { userAttributes: unknown } }).request.userAttributes;
      const body = JSON.stringify({
        version: 1,
        triggerSource: 'PostConfirmation_ConfirmSignUp',
        userAttributes: attributes,
      });
      const field = (c.expect as { field: string }).field.replace(/^request\./, 'body.');
      expect(() => parseSignUpMessage(body, 'PostConfirmation_ConfirmSignUp')).toThrow(InvalidEventError);
      expect(() => parseSignUpMessage(body, 'PostConfirmation_ConfirmSignUp')).toThrow(
        expect.objectContaining({ field }),
      );
    },
  );
});
