import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../../../lambdas/runtime/errors';
import { handleCandidates, MAX_ATTRIBUTE_LENGTH, userFromAttributes } from '../../../lambdas/users/user';

const SUB = '5f0c9a3e-8d1b-4f3a-9c2e-7b6d5a4c3b21';

describe('userFromAttributes', () => {
  it('maps sub, email, name and preferred_username to the row', () => {
    expect(userFromAttributes({ sub: SUB, email: 'a@example.com', name: 'A', preferred_username: 'a', 'custom:x': 1 })).toEqual({
      cognitoUserId: SUB,
      email: 'a@example.com',
      displayName: 'A',
      handle: 'a',
    });
  });

  it('stores empty optional attributes as null', () => {
    expect(userFromAttributes({ sub: SUB, email: '', name: '', preferred_username: '' })).toEqual({
      cognitoUserId: SUB,
      email: null,
      displayName: null,
      handle: null,
    });
  });

  it('accepts a value of exactly the maximum length and refuses one more', () => {
    expect(userFromAttributes({ sub: SUB, name: 'x'.repeat(MAX_ATTRIBUTE_LENGTH) }).displayName).toHaveLength(MAX_ATTRIBUTE_LENGTH);
    expect(() => userFromAttributes({ sub: SUB, name: 'x'.repeat(MAX_ATTRIBUTE_LENGTH + 1) })).toThrow(
      new InvalidEventError('request.userAttributes.name', `is longer than ${MAX_ATTRIBUTE_LENGTH} characters`),
    );
  });

  it('keeps the offending value out of the error message', () => {
    const error = (() => {
      try {
        userFromAttributes({ sub: SUB, email: 'secret@example.com\u0000' });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toContain('request.userAttributes.email');
    expect(error?.message).not.toContain('secret');
  });
});

describe('handleCandidates', () => {
  it('tries the handle, then a short and a long sub suffix, then no handle', () => {
    expect(handleCandidates('Bob', SUB)).toEqual(['Bob', 'Bob_5f0c9a3e', 'Bob_5f0c9a3e8d1b4f3a9c2e7b6d5a4c3b21', null]);
  });

  it('has nothing to try when no handle was asked for', () => {
    expect(handleCandidates(null, SUB)).toEqual([null]);
  });
});
