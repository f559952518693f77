// The store function's door: what it refuses before the database (a method that is not the store's, arguments
// of the wrong shape) and what of a failure it lets out (name and SQLSTATE, never a message that may quote a
// value). Calls that reach PostgreSQL are tested end to end in test/lambdas/reconcile/handler.test.ts.
import { describe, expect, it } from 'vitest';
import type { ReconcileStore } from '../../../lambdas/reconcile/core';
import { createHandler } from '../../../lambdas/reconcile-store/handler';
import { createLogger } from '../../../lambdas/runtime/logger';
import { STORE_METHODS } from '../../../lambdas/reconcile/store-protocol';

const SUB = '00000000-0000-4000-8000-000000000001';

function storeHandler(store: Partial<ReconcileStore> = {}) {
  const calls: string[] = [];
  const lines: string[] = [];
  // Every method records that it was reached; the checks under test must stop a request before that.
  const spy = new Proxy(store, {
    get: (target, method: string) => {
      const own = target[method as keyof ReconcileStore] as ((...args: unknown[]) => unknown) | undefined;
      return (...args: unknown[]) => {
        calls.push(method);
        return own === undefined ? Promise.resolve(null) : own(...args);
      };
    },
  }) as ReconcileStore;
  const handler = createHandler(
    { database: { connectionUrl: 'postgres://unused@127.0.0.1:9/none' } },
    { store: spy, logger: createLogger({}, (line) => lines.push(line)) },
  );
  return { handler, calls, lines };
}

const user = {
  sub: SUB,
  email: 'someone@example.com',
  name: 'Some One',
  handle: null,
  handleCandidates: ['someone'],
  enabled: true,
  modifiedAt: null,
  readAt: '2026-12-01T10:00:00.000Z',
  seenOnly: false,
};

describe('the reconcile store function', () => {
  it.each([
    ['not an object', 'begin', 'request must be a JSON object'],
    [{ method: 'dropEverything', args: [] }, 'a method that is not the store’s', 'method is not a store method'],
    [{ method: 'unseen', args: [[]] }, 'the operator-only method', 'method is not a store method'],
    [{ method: 'begin', args: [], extra: 1 }, 'an extra field', '"extra" is not a field'],
    [{ method: 'begin', args: {} }, 'args that are not a list', 'args must be a list'],
    [{ method: 'begin', args: [1] }, 'too many arguments', 'args must hold 0 value(s)'],
    [{ method: 'rewind', args: ['1; DROP TABLE x'] }, 'a run id that is not one', 'args[0] must be a run id'],
    [{ method: 'erase', args: ['not a sub!', 'delete'] }, 'a bad sub', 'args[0] is not a Cognito user id'],
    [{ method: 'erase', args: [SUB, 'shred'] }, 'an unknown policy', 'args[1] must be delete or anonymize'],
    [{ method: 'pruneCandidates', args: ['1', null, 1e6] }, 'an oversized chunk', 'args[2] must be a whole number'],
    [{ method: 'apply', args: [[{ ...user, role: 'admin' }]] }, 'a user with an extra field', 'args[0][0].role'],
    [{ method: 'apply', args: [[{ ...user, readAt: 'yesterday' }]] }, 'a bad read time', 'readAt must be an ISO'],
    [{ method: 'apply', args: [Array(61).fill(user)] }, 'more than a page', 'at most 60 user states'],
    [{ method: 'bindPool', args: ['not-a-pool'] }, 'a pool id that is not one', 'args[0] is not a user pool id'],
  ])('refuses %j (%s) before the database, naming what is wrong', async (event, _what, message) => {
    const { handler, calls, lines } = storeHandler();
    const answer = await handler(event === 'not an object' ? 'begin' : event);
    expect(answer).toEqual({
      ok: false,
      error: { name: 'InvalidStoreRequestError', message: expect.stringContaining(message) as unknown },
    });
    expect(calls).toEqual([]);
    // Refusals name fields, never values: nothing of the user's state in the log.
    expect(lines.join('\n')).not.toMatch(/someone@example\.com|Some One/);
  });

  it('answers a checked call with its result, a run’s start as JSON text and an empty result as null', async () => {
    const startedAt = new Date('2026-12-01T10:00:00Z');
    const { handler, calls } = storeHandler({
      begin: () =>
        Promise.resolve({ runId: '7', startedAt, paginationToken: null, pages: 0, scanned: 0, resumed: false }),
      rewind: () => Promise.resolve(),
    });
    const begun = JSON.parse(JSON.stringify(await handler({ method: 'begin', args: [] }))) as unknown;
    expect(begun).toEqual({
      ok: true,
      result: {
        runId: '7',
        startedAt: '2026-12-01T10:00:00.000Z',
        paginationToken: null,
        pages: 0,
        scanned: 0,
        resumed: false,
      },
    });
    expect(await handler({ method: 'rewind', args: ['7'] })).toEqual({ ok: true, result: null });
    expect(calls).toEqual(['begin', 'rewind']);
  });

  it('returns a database failure by name and SQLSTATE, never with the server’s message', async () => {
    const failure = Object.assign(new Error('new row violates check constraint: someone@example.com'), {
      code: '23514',
    });
    const { handler, lines } = storeHandler({ erase: () => Promise.reject(failure) });
    const answer = await handler({ method: 'erase', args: [SUB, 'delete'] });
    expect(answer).toEqual({
      ok: false,
      error: { name: 'Error', code: '23514', message: 'store call erase failed: Error (23514)' },
    });
    expect(JSON.stringify(answer) + lines.join('\n')).not.toContain('someone@example.com');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'ERROR', method: 'erase', errorCode: '23514' });
  });

  it('passes sync.bind_pool’s SY001 message, which names only the two pool ids, and logs it at WARN', async () => {
    const mismatch = Object.assign(
      new Error('database is kept in step with eu-west-1_Bound1; refusing us-east-1_Asked1'),
      { code: 'SY001' },
    );
    const { handler, lines } = storeHandler({ bindPool: () => Promise.reject(mismatch) });
    expect(await handler({ method: 'bindPool', args: ['us-east-1_Asked1'] })).toEqual({
      ok: false,
      error: { name: 'Error', code: 'SY001', message: mismatch.message },
    });
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'WARN', errorCode: 'SY001' });
  });

  it('knows every store method but the operator’s own', () => {
    expect([...STORE_METHODS].sort()).not.toContain('unseen');
    expect(new Set(STORE_METHODS).size).toBe(STORE_METHODS.length);
  });
});
