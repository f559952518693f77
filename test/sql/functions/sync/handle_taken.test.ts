// sync.handle_taken (sql/functions/sync/handle_taken.sql), as the PreSignUp function's role calls it.
import { beforeAll, describe, expect, it } from 'vitest';
import { applyUsers, as, reset, state, useDatabase } from '../../fixtures';

useDatabase();

describe('sync.handle_taken', () => {
  beforeAll(async () => {
    await reset();
    await applyUsers([state('h-1', 1, { handle: 'Taken' })]);
  });

  it.each([
    ['taken', true],
    ['TAKEN', true],
    ['free', false],
  ])('answers %s with %s, ignoring case', async (handle, expected) => {
    const { rows } = await as.handle_checker.query<{ taken: boolean }>('SELECT sync.handle_taken($1) AS taken', [
      handle,
    ]);
    expect(rows).toEqual([{ taken: expected }]);
  });
});
