import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isCognitoSub, isSub, NotASubError, subFilter } from '../../../lambdas/cognito/sub';
import { PROBE_PATTERN, PROBE_PREFIX } from '../../../lambdas/post-confirmation/smoke-probe';

describe('the shape of a sub', () => {
  it('takes a Cognito UUID and any opaque id, but nothing that could forge a log line', () => {
    expect(isSub(randomUUID())).toBe(true);
    expect(isSub('us-east-1:abc.DEF_9')).toBe(true);
    for (const bad of ['', 'a\nb', '-leading', 'x'.repeat(129), 'a b', 42, undefined]) expect(isSub(bad)).toBe(false);
  });

  it('takes only a UUID as a Cognito-made sub, so a chosen user name is never mistaken for one', () => {
    expect(isCognitoSub(randomUUID())).toBe(true);
    expect(isCognitoSub(randomUUID().toUpperCase())).toBe(true);
    expect(isCognitoSub('jane.doe')).toBe(false);
    expect(isCognitoSub(`${randomUUID()}x`)).toBe(false);
  });

  it('builds the smoke probe from the same UUID shape, behind a prefix no Cognito sub has', () => {
    expect(`${PROBE_PREFIX}${randomUUID()}`).toMatch(PROBE_PATTERN);
    expect(randomUUID()).not.toMatch(PROBE_PATTERN);
  });

  it("puts a sub into ListUsers' filter as an exact match, and refuses anything that could add a clause", () => {
    const id = randomUUID();
    expect(subFilter(id)).toBe(`sub = "${id}"`);
    expect(subFilter('us-east-1:abc.DEF_9')).toBe('sub = "us-east-1:abc.DEF_9"');
    for (const bad of ['x" or email ^= "', 'a\\', '', 'a b']) expect(() => subFilter(bad)).toThrow(NotASubError);
    expect(() => subFilter('x" or "')).toThrow('not a sub');
  });
});
