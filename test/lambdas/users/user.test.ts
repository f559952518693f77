import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../../../lambdas/runtime/errors';
import {
  HANDLE_PATTERN,
  handleCandidates,
  MAX_ATTRIBUTE_LENGTH,
  userFromAttributes,
} from '../../../lambdas/users/user';

const SUB = '5f0c9a3e-8d1b-4f3a-9c2e-7b6d5a4c3b21';

describe('userFromAttributes', () => {
  it('maps sub, email, name and preferred_username to the row', () => {
    expect(
      userFromAttributes({ sub: SUB, email: 'a@example.com', name: 'A', preferred_username: 'abc', 'custom:x': 1 }),
    ).toStrictEqual({
      cognitoUserId: SUB,
      email: 'a@example.com',
      displayName: 'A',
      handle: 'abc',
    });
  });

  it('stores empty optional attributes as null', () => {
    expect(userFromAttributes({ sub: SUB, email: '', name: '', preferred_username: '' })).toStrictEqual({
      cognitoUserId: SUB,
      email: null,
      displayName: null,
      handle: null,
    });
  });

  it('accepts a value of exactly the maximum length and refuses one more', () => {
    expect(userFromAttributes({ sub: SUB, name: 'x'.repeat(MAX_ATTRIBUTE_LENGTH) }).displayName).toHaveLength(
      MAX_ATTRIBUTE_LENGTH,
    );
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

describe('the handle rule in the mapping', () => {
  it.each([
    ['3 characters', 'abc'],
    ['32 characters', 'A'.repeat(31) + '_'],
    ['digits and underscores', '0_9_Zz'],
  ])('keeps a handle of %s', (_what, handle) => {
    const user = userFromAttributes({ sub: SUB, preferred_username: handle });
    expect(user.handle).toBe(handle);
    expect(user).not.toHaveProperty('handleRefused');
  });

  it.each([
    ['2 characters', 'ab'],
    ['33 characters', 'a'.repeat(33)],
    ['2048 CJK characters', '山'.repeat(2048)],
    ['more than Cognito allows', 'x'.repeat(MAX_ATTRIBUTE_LENGTH + 1)],
    ['zero-width characters', 'hostile\u200bper\u200dson\ufeff'],
    ['a Cyrillic look-alike letter', 'j\u0430nedoe'],
    ['a space', 'jane doe'],
    ['a trailing newline', 'janedoe\n'],
    ['quotes', "x' OR '1'='1"],
    ['a NUL character', 'jane\u0000doe'],
    ['a lone surrogate', 'jane\ud800doe'],
  ])('stores no handle, flagged as refused, for a handle with %s', (_what, handle) => {
    const user = userFromAttributes({ sub: SUB, email: 'a@example.com', preferred_username: handle });
    expect(user).toStrictEqual({
      cognitoUserId: SUB,
      email: 'a@example.com',
      displayName: null,
      handle: null,
      handleRefused: true,
    });
  });

  it('refuses a preferred_username that is not a string, naming the field', () => {
    expect(() => userFromAttributes({ sub: SUB, preferred_username: 42 })).toThrow(
      new InvalidEventError('request.userAttributes.preferred_username', 'must be a string, got number'),
    );
  });
});

describe('handleCandidates', () => {
  it('tries the handle, then a sub suffix, then a name made of the sub', () => {
    expect(handleCandidates('Bob', SUB)).toEqual(['Bob', 'Bob_5f0c9a3e', 'u_5f0c9a3e8d1b4f3a9c2e7b6d5a4c3b']);
  });

  it('cuts a long handle so that the suffixed candidate fits 32 characters', () => {
    const handle = 'h'.repeat(32);
    expect(handleCandidates(handle, SUB)).toEqual([
      handle,
      `${'h'.repeat(23)}_5f0c9a3e`,
      'u_5f0c9a3e8d1b4f3a9c2e7b6d5a4c3b',
    ]);
  });

  it('gives only candidates inside the pattern, the same ones every time', () => {
    for (const [handle, sub] of [
      ['abc', 'a'],
      ['abc', 'us-east-1:5f0c9a3e'],
      ['x'.repeat(32), 'Z.Z.Z.Z.Z.Z.Z.Z.Z'],
      ['___', '0'],
    ] as const) {
      const candidates = handleCandidates(handle, sub);
      expect(candidates.length).toBeGreaterThan(0);
      for (const candidate of candidates) expect(candidate).toMatch(HANDLE_PATTERN);
      expect(new Set(candidates).size).toBe(candidates.length);
      expect(handleCandidates(handle, sub)).toEqual(candidates);
    }
  });

  it('drops a candidate equal to an earlier one or outside the pattern, keeping the order', () => {
    // Each case against the rule as first written: dedupe in order, then keep what fits the pattern.
    const rule = (handle: string, sub: string) => {
      const id = sub.replace(/[^A-Za-z0-9]/g, '').toLowerCase();
      const suffix = `_${id.slice(0, 8)}`;
      const all = [handle, `${handle.slice(0, 32 - suffix.length)}${suffix}`, `u_${id.slice(0, 30)}`];
      return [...new Set(all)].filter((candidate) => HANDLE_PATTERN.test(candidate));
    };
    expect(handleCandidates('u_abc', 'abc')).toEqual(['u_abc', 'u_abc_abc']);
    expect(handleCandidates('abc', '.')).toEqual(['abc', 'abc_']);
    expect(handleCandidates('u_x', 'X')).toEqual(['u_x', 'u_x_x']);
    for (const [handle, sub] of [
      ['u_abc', 'abc'],
      ['abc', '.'],
      ['u_x', 'X'],
      ['Bob', SUB],
      ['h'.repeat(32), SUB],
      ['u_5f0c9a3e8d1b4f3a9c2e7b6d5a4c3b', SUB],
      ['abc', 'a'],
      ['___', '0'],
      ['x'.repeat(32), 'Z.Z.Z.Z.Z.Z.Z.Z.Z'],
    ] as const) {
      expect(handleCandidates(handle, sub), `${handle} ${sub}`).toEqual(rule(handle, sub));
    }
  });

  it('has nothing to try when no handle, or one outside the pattern, was asked for', () => {
    expect(handleCandidates(null, SUB)).toEqual([]);
    expect(handleCandidates('a b', SUB)).toEqual([]);
  });
});
