// The export's use case with a store that stands in for the database where the database cannot be made to
// (a document of several megabytes); the real store is exercised in handler.test.ts.
import { describe, expect, it } from 'vitest';
import {
  checkSub,
  exportUserData,
  ExportTooLargeError,
  InvalidSubError,
  type UserDataDocument,
} from '../../../lambdas/export/core';
import { createLogger } from '../../../lambdas/runtime/logger';

const SUB = '00000000-0000-4000-8000-000000000001';

function documentOf(size: number): UserDataDocument {
  return {
    format: 'cruddur-user-data/1',
    sub: SUB,
    exported_at: '2026-12-01T10:00:00+00:00',
    user: { email: 'jane@example.com' },
    groups: [],
    activities: [{ message: 'x'.repeat(size) }],
    erasure: null,
  };
}

describe('exportUserData', () => {
  it('refuses a document larger than a function response may hold, naming the sub and the size only', async () => {
    const lines: string[] = [];
    const error = await exportUserData(SUB, {
      store: { userData: () => Promise.resolve(documentOf(2000)) },
      logger: createLogger({}, (line) => lines.push(line)),
      maxBytes: 1000,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExportTooLargeError);
    expect((error as ExportTooLargeError).bytes).toBeGreaterThan(2000);
    expect((error as Error).message).toContain(SUB);
    expect(lines.join('\n')).not.toMatch(/jane|xxxx/);
  });

  it('returns a document within the limit whole', async () => {
    const document = documentOf(10);
    const result = await exportUserData(SUB, {
      store: { userData: () => Promise.resolve(document) },
      logger: createLogger({}, () => undefined),
      maxBytes: 1000,
    });
    expect(result).toEqual({ outcome: 'exported', sub: SUB, document });
  });
});

describe('checkSub', () => {
  it('takes a Cognito sub and any opaque id of the sub shape', () => {
    expect(checkSub(SUB)).toBe(SUB);
    expect(checkSub('local-user_1')).toBe('local-user_1');
  });

  it.each([undefined, 42, '', ' x', 'a'.repeat(129), 'jane@example.com', 'x\ny'])('refuses %j', (sub) => {
    expect(() => checkSub(sub)).toThrow(InvalidSubError);
  });
});
