// The user-event rule's pattern against the CloudTrail fixtures in events/cloudtrail, through a matcher for the
// parts of EventBridge's pattern language the rule uses: exact values and `exists` in an array (any one matches),
// nested objects, `$or`. It is this test's reading of the documented semantics
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html,
// .../eb-event-patterns-null-values.html), not EventBridge itself; it refuses any operator it does not know, so a
// pattern that grows beyond it fails here instead of being judged wrongly.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { USER_EVENT_NAMES } from '../../../lambdas/cognito/cloudtrail-event';
import { CALLS_WITHOUT_POOL_ID, userEventPattern } from '../../../lib/constructs/user-events';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function leafMatches(matcher: Json, present: boolean, value: Json | undefined): boolean {
  if (isObject(matcher)) {
    const keys = Object.keys(matcher);
    if (keys.length === 1 && keys[0] === 'exists' && typeof matcher.exists === 'boolean') {
      return matcher.exists === present;
    }
    throw new Error(`the test's matcher does not know ${JSON.stringify(matcher)}`);
  }
  if (!present) return false;
  const values = Array.isArray(value) ? value : [value];
  return values.some((item) => item === matcher);
}

function objectMatches(pattern: JsonObject, event: JsonObject): boolean {
  return Object.entries(pattern).every(([key, rule]) => {
    if (key === '$or') {
      if (!Array.isArray(rule)) throw new Error('$or takes an array of patterns');
      return rule.some((branch) => isObject(branch) && objectMatches(branch, event));
    }
    const present = Object.prototype.hasOwnProperty.call(event, key);
    const value = event[key];
    if (Array.isArray(rule)) return rule.some((matcher) => leafMatches(matcher, present, value));
    if (isObject(rule)) return objectMatches(rule, isObject(value) ? value : {});
    throw new Error(`a pattern's value is an array or an object, not ${JSON.stringify(rule)}`);
  });
}

/** The pattern as CloudFormation receives it: its matchers resolved, `detailType` as the event's `detail-type`. */
const POOL_ID = 'us-east-1_EXAMPLE1';
const { detailType, ...rest } = new Stack().resolve(userEventPattern(POOL_ID)) as JsonObject;
const pattern: JsonObject = { ...rest, 'detail-type': detailType! };
const matches = (event: JsonObject) => objectMatches(pattern, event);

const FIXTURES = join(__dirname, '../../../events/cloudtrail');
const fixture = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as JsonObject;
const detailOf = (event: JsonObject) => event.detail as JsonObject;

describe("the user-event rule's pattern against the CloudTrail fixtures", () => {
  const all = readdirSync(FIXTURES).filter((name) => name.endsWith('.json'));

  it('matches every successful user call of this pool, and every call that names no pool', () => {
    const expected = all.filter((name) => {
      const detail = detailOf(fixture(name));
      const eventName = detail.eventName as string;
      const poolId = (detail.requestParameters as JsonObject | null)?.userPoolId;
      return (
        (USER_EVENT_NAMES as readonly string[]).includes(eventName) &&
        detail.errorCode === undefined &&
        (poolId === POOL_ID || CALLS_WITHOUT_POOL_ID.includes(eventName))
      );
    });
    expect(expected.length).toBeGreaterThan(10);
    expect(all.filter((name) => matches(fixture(name)))).toEqual(expected);
  });

  it('passes over a failed call, another pool and a call that is not a user change', () => {
    for (const name of [
      'admin-update-user-attributes-failed.json',
      'admin-disable-user-other-pool.json',
      'initiate-auth.json',
    ]) {
      expect(matches(fixture(name)), name).toBe(false);
    }
  });

  it('accepts a call whose errorCode is present but empty, as some Cognito records carry it', () => {
    const event = fixture('admin-update-user-attributes-failed.json');
    const detail = detailOf(event);
    detail.errorCode = '';
    delete detail.errorMessage;
    expect(matches(event)).toBe(true);
    detail.errorCode = 'AliasExistsException';
    expect(matches(event)).toBe(false);
  });
});

describe("the test's matcher", () => {
  it('reads exists, exact values, nested objects and $or as EventBridge documents them', () => {
    const rule: JsonObject = {
      a: [{ exists: false }, ''],
      b: { c: ['x'] },
      $or: [{ d: ['1'] }, { e: [{ exists: true }] }],
    };
    expect(objectMatches(rule, { b: { c: 'x' }, d: '1' })).toBe(true);
    expect(objectMatches(rule, { a: '', b: { c: 'x' }, e: 0 })).toBe(true);
    expect(objectMatches(rule, { a: 'E', b: { c: 'x' }, d: '1' })).toBe(false);
    expect(objectMatches(rule, { b: { c: 'y' }, d: '1' })).toBe(false);
    expect(objectMatches(rule, { b: { c: 'x' }, d: '2' })).toBe(false);
    expect(() => objectMatches({ a: [{ prefix: 'x' }] }, { a: 'xy' })).toThrow(/does not know/);
  });
});
