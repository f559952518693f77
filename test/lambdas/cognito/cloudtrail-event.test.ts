import { describe, expect, it } from 'vitest';
import {
  ATTRIBUTE_EVENT_NAMES,
  GROUP_EVENT_NAMES,
  HIDDEN_VALUE,
  isHidden,
  MEMBERSHIP_EVENT_NAMES,
  subFrom,
  USER_EVENT_NAMES,
  userEventFrom,
} from '../../../lambdas/cognito/cloudtrail-event';
import { cloudTrailFixtureNames, FIXTURE_POOL_ID, FIXTURE_SUB, loadCloudTrailEvent } from '../user-events/fixtures';

/** The fixture of an event name: its name in kebab case. */
const fixtureOf = (names: readonly string[]): [string, string][] =>
  names.map((name) => [name, name.replace(/(?<!^)([A-Z])/g, '-$1').toLowerCase()]);
const ONE_PER_EVENT_NAME = fixtureOf(USER_EVENT_NAMES);

describe('USER_EVENT_NAMES', () => {
  it('holds at least the calls the lifecycle issue names, once each', () => {
    const required = [
      'AdminCreateUser',
      'AdminUpdateUserAttributes',
      'UpdateUserAttributes',
      'VerifyUserAttribute',
      'AdminDeleteUser',
      'DeleteUser',
      'AdminDisableUser',
      'AdminEnableUser',
      'AdminLinkProviderForUser',
    ];
    expect(USER_EVENT_NAMES).toEqual(expect.arrayContaining(required));
    expect(new Set(USER_EVENT_NAMES).size).toBe(USER_EVENT_NAMES.length);
  });

  it('leaves out the unauthenticated SignUp, whose user is not synced yet', () => {
    expect(USER_EVENT_NAMES).not.toContain('SignUp');
  });

  it('has a fixture for every name', () => {
    expect(cloudTrailFixtureNames()).toEqual(expect.arrayContaining(ONE_PER_EVENT_NAME.map(([, fixture]) => fixture)));
  });

  it('is the attribute, membership and group calls, each in one list only', () => {
    expect([...USER_EVENT_NAMES].sort()).toEqual(
      [...ATTRIBUTE_EVENT_NAMES, ...MEMBERSHIP_EVENT_NAMES, ...GROUP_EVENT_NAMES].sort(),
    );
    expect(MEMBERSHIP_EVENT_NAMES).toEqual(['AdminAddUserToGroup', 'AdminRemoveUserFromGroup']);
    expect(GROUP_EVENT_NAMES).toEqual(['DeleteGroup']);
  });
});

describe('userEventFrom', () => {
  it.each(fixtureOf(ATTRIBUTE_EVENT_NAMES))(
    'finds the sub of a %s event in additionalEventData',
    (eventName, fixture) => {
      expect(userEventFrom(loadCloudTrailEvent(fixture), FIXTURE_POOL_ID)).toEqual({
        kind: 'user',
        eventName,
        eventID: expect.stringMatching(/^a1b2c3d4-/) as unknown,
        sub: FIXTURE_SUB,
        subSource: 'additionalEventData.sub',
      });
    },
  );

  it.each(fixtureOf(MEMBERSHIP_EVENT_NAMES))(
    'reads a %s event as a membership change of the sub',
    (eventName, fixture) => {
      expect(userEventFrom(loadCloudTrailEvent(fixture), FIXTURE_POOL_ID)).toEqual({
        kind: 'membership',
        eventName,
        eventID: expect.stringMatching(/^a1b2c3d4-/) as unknown,
        sub: FIXTURE_SUB,
        subSource: 'additionalEventData.sub',
      });
    },
  );

  it('reads a DeleteGroup event as a group change, with no user', () => {
    expect(userEventFrom(loadCloudTrailEvent('delete-group'), FIXTURE_POOL_ID)).toEqual({
      kind: 'group',
      eventName: 'DeleteGroup',
      eventID: expect.stringMatching(/^a1b2c3d4-/) as unknown,
      group: 'admins',
    });
  });

  it.each([
    ['missing', undefined],
    ['a name with a space', 'two words'],
    ['a log line', 'admins\nlevel=ERROR'],
    ['too long', 'g'.repeat(129)],
    ['not a string', 7],
  ])('ignores a DeleteGroup event whose group name is %s', (_, groupName) => {
    const event = loadCloudTrailEvent('delete-group');
    const request: Record<string, unknown> = { userPoolId: FIXTURE_POOL_ID };
    if (groupName !== undefined) request.groupName = groupName;
    const changed = { ...event, detail: { ...event.detail, requestParameters: request } };
    expect(userEventFrom(changed, FIXTURE_POOL_ID)).toMatchObject({ kind: 'ignored', reason: 'no_group' });
  });

  it("ignores another pool's DeleteGroup", () => {
    expect(userEventFrom(loadCloudTrailEvent('delete-group'), 'us-east-1_Another1')).toMatchObject({
      kind: 'ignored',
      reason: 'other_pool',
    });
  });

  it.each([
    ['admin-disable-user-sub-only-in-username', 'requestParameters.username'],
    ['admin-create-user-sub-only-in-response', 'responseElements.user.attributes.sub'],
  ])('falls back to the next place in the order for %s', (fixture, subSource) => {
    expect(userEventFrom(loadCloudTrailEvent(fixture), FIXTURE_POOL_ID)).toMatchObject({
      kind: 'user',
      sub: FIXTURE_SUB,
      subSource,
    });
  });

  it('takes AdminCreateUser response user name when it is a visible sub', () => {
    const event = loadCloudTrailEvent('admin-create-user');
    const detail = event.detail as { additionalEventData?: unknown; responseElements: { user: { username: string } } };
    delete detail.additionalEventData;
    detail.responseElements.user.username = FIXTURE_SUB;
    expect(userEventFrom(event, FIXTURE_POOL_ID)).toMatchObject({
      kind: 'user',
      sub: FIXTURE_SUB,
      subSource: 'responseElements.user.username',
    });
  });

  it('prefers additionalEventData.sub to a different sub in requestParameters.username', () => {
    const event = loadCloudTrailEvent('admin-disable-user');
    (event.detail.requestParameters as Record<string, unknown>).username = '00000000-0000-4000-8000-000000000000';
    expect(userEventFrom(event, FIXTURE_POOL_ID)).toMatchObject({
      sub: FIXTURE_SUB,
      subSource: 'additionalEventData.sub',
    });
  });

  it.each([
    ['admin-update-user-attributes-failed', 'failed_call'],
    ['admin-disable-user-other-pool', 'other_pool'],
    ['admin-enable-user-hidden-username-no-sub', 'no_sub'],
    ['update-user-attributes-forged-sub', 'no_sub'],
    ['admin-update-user-attributes-username-not-a-sub', 'no_sub'],
    ['initiate-auth', 'not_user_event'],
  ])('ignores %s as %s', (fixture, reason) => {
    expect(userEventFrom(loadCloudTrailEvent(fixture), FIXTURE_POOL_ID)).toMatchObject({ kind: 'ignored', reason });
  });

  it('keeps the safe identifiers of an ignored event for its log line', () => {
    expect(userEventFrom(loadCloudTrailEvent('admin-disable-user-other-pool'), FIXTURE_POOL_ID)).toEqual({
      kind: 'ignored',
      reason: 'other_pool',
      eventName: 'AdminDisableUser',
      eventID: expect.stringMatching(/^a1b2c3d4-/) as unknown,
    });
  });

  it.each([
    ['the source', (e: Record<string, unknown>) => (e.source = 'aws.s3')],
    ['the detail type', (e: Record<string, unknown>) => (e['detail-type'] = 'Object Created')],
    [
      'the API source',
      (e: Record<string, unknown>) =>
        ((e.detail as Record<string, unknown>).eventSource = 'cognito-identity.amazonaws.com'),
    ],
    ['the event name', (e: Record<string, unknown>) => ((e.detail as Record<string, unknown>).eventName = 'SignUp')],
  ])('ignores an event when %s is not Cognito user pool API calls', (_name, change) => {
    const event = loadCloudTrailEvent('admin-disable-user') as unknown as Record<string, unknown>;
    change(event);
    expect(userEventFrom(event, FIXTURE_POOL_ID)).toMatchObject({ kind: 'ignored', reason: 'not_user_event' });
  });

  it.each([
    ['null', null],
    ['an empty string', ''],
  ])('treats an errorCode of %s as a successful call', (_name, errorCode) => {
    const event = loadCloudTrailEvent('admin-disable-user');
    (event.detail as Record<string, unknown>).errorCode = errorCode;
    expect(userEventFrom(event, FIXTURE_POOL_ID)).toMatchObject({ kind: 'user' });
  });

  it('accepts a hidden pool id, which names no other pool', () => {
    const event = loadCloudTrailEvent('admin-disable-user');
    (event.detail.requestParameters as Record<string, unknown>).userPoolId = HIDDEN_VALUE;
    expect(userEventFrom(event, FIXTURE_POOL_ID)).toMatchObject({ kind: 'user' });
  });

  it.each([
    ['null', null],
    ['a string', 'event'],
    ['an array', []],
    ['an event without detail', { source: 'aws.cognito-idp', 'detail-type': 'AWS API Call via CloudTrail' }],
    [
      'an event whose detail is a string',
      { source: 'aws.cognito-idp', 'detail-type': 'AWS API Call via CloudTrail', detail: 'x' },
    ],
  ])('ignores %s as malformed', (_name, event) => {
    expect(userEventFrom(event, FIXTURE_POOL_ID)).toEqual({ kind: 'ignored', reason: 'malformed' });
  });

  it('drops an event name or id of an unexpected shape from the identifiers', () => {
    const event = loadCloudTrailEvent('admin-disable-user');
    const detail = event.detail as Record<string, unknown>;
    detail.eventName = 'AdminDisableUser\n{"forged":true}';
    detail.eventID = 'a1b2\r\nforged';
    expect(userEventFrom(event, FIXTURE_POOL_ID)).toEqual({ kind: 'ignored', reason: 'not_user_event' });
  });
});

describe('subFrom', () => {
  it.each([
    ['a hidden sub', HIDDEN_VALUE],
    ['the guide spelling of hidden', 'HIDDEN_FOR_SECURITY_REASONS'],
    ['an empty sub', ''],
    ['a number', 42],
    ['a sub with a newline', `${FIXTURE_SUB}\nINFO forged`],
  ])('passes over %s in additionalEventData', (_name, sub) => {
    expect(subFrom({ additionalEventData: { sub } })).toBeUndefined();
  });

  it('reads the sub attribute in the API casing too', () => {
    expect(
      subFrom({
        responseElements: {
          user: {
            attributes: [
              { Name: 'email', Value: 'x' },
              { Name: 'sub', Value: FIXTURE_SUB },
            ],
          },
        },
      }),
    ).toEqual({
      sub: FIXTURE_SUB,
      subSource: 'responseElements.user.attributes.sub',
    });
  });
});

describe('isHidden', () => {
  it.each([HIDDEN_VALUE, 'HIDDEN_FOR_SECURITY_REASONS'])('knows %s', (value) => expect(isHidden(value)).toBe(true));
  it.each([FIXTURE_SUB, 'hidden', 'HIDDEN-X', 42])('does not take %s for hidden', (value) =>
    expect(isHidden(value)).toBe(false),
  );
});
