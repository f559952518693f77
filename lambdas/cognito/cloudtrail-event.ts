// Cognito user pool API calls as EventBridge delivers them from CloudTrail: which calls mean "user X changed"
// (their attributes, or the groups they are in) or "group G changed", and where in the record the user's sub or
// the group's name is. An event is only a hint: nothing but the sub or the group name is read from it, never an
// attribute value (Cognito hides those anyway); the user or group is always read again from the pool.
import type { EventBridgeEvent } from 'aws-lambda';
import { isRecord } from '../runtime/records';
import { isGroupName } from './ids';
import { COGNITO_SUB_PATTERN, SUB_PATTERN } from './sub';

export const CLOUDTRAIL_DETAIL_TYPE = 'AWS API Call via CloudTrail';
export const COGNITO_EVENT_SOURCE = 'aws.cognito-idp';
export const COGNITO_API_SOURCE = 'cognito-idp.amazonaws.com';

/**
 * The calls that can change what public.users holds of a user: existence, email, name, preferred_username,
 * enabled, or a status that makes them a user (UNCONFIRMED -> CONFIRMED). Left out on purpose: SignUp (the user
 * is UNCONFIRMED, not yet synced, and the call is unauthenticated, so counting it would let anyone spend our
 * share of the ListUsers quota); password calls (AdminSetUserPassword, AdminResetUserPassword, ChangePassword,
 * ...) move a user only between statuses that are all synced and change no column; sign-in calls. Attributes
 * set while answering NEW_PASSWORD_REQUIRED (RespondToAuthChallenge, a sign-in call) reach the table through
 * the reconcile.
 */
export const ATTRIBUTE_EVENT_NAMES = [
  'AdminCreateUser',
  'AdminUpdateUserAttributes',
  'UpdateUserAttributes',
  'VerifyUserAttribute',
  'AdminDeleteUserAttributes',
  'DeleteUserAttributes',
  'AdminDeleteUser',
  'DeleteUser',
  'AdminDisableUser',
  'AdminEnableUser',
  'AdminLinkProviderForUser',
  'AdminDisableProviderForUser',
  'AdminConfirmSignUp',
  'ConfirmSignUp',
] as const;

/** The calls that change which groups one user is in (public.user_groups): the user's list is read again. */
export const MEMBERSHIP_EVENT_NAMES = ['AdminAddUserToGroup', 'AdminRemoveUserFromGroup'] as const;

/**
 * The calls that change a group as a whole: DeleteGroup takes every membership of the group with it. It names no
 * user. (CreateGroup adds nobody; UpdateGroup changes no column the table holds.)
 */
export const GROUP_EVENT_NAMES = ['DeleteGroup'] as const;

/** Every call the EventBridge rule matches and the user-events function takes. */
export const USER_EVENT_NAMES = [...ATTRIBUTE_EVENT_NAMES, ...MEMBERSHIP_EVENT_NAMES, ...GROUP_EVENT_NAMES] as const;

export type UserEventName = (typeof USER_EVENT_NAMES)[number];
export type AttributeEventName = (typeof ATTRIBUTE_EVENT_NAMES)[number];
export type MembershipEventName = (typeof MEMBERSHIP_EVENT_NAMES)[number];
export type GroupEventName = (typeof GROUP_EVENT_NAMES)[number];

const MEMBERSHIP_EVENT_NAME_SET: ReadonlySet<string> = new Set(MEMBERSHIP_EVENT_NAMES);
const GROUP_EVENT_NAME_SET: ReadonlySet<string> = new Set(GROUP_EVENT_NAMES);

const USER_EVENT_NAME_SET: ReadonlySet<string> = new Set(USER_EVENT_NAMES);

export function isUserEventName(name: unknown): name is UserEventName {
  return typeof name === 'string' && USER_EVENT_NAME_SET.has(name);
}

/**
 * What Cognito writes in place of a value it will not log. Its guide spells it HIDDEN_FOR_SECURITY_REASONS,
 * recorded events say HIDDEN_DUE_TO_SECURITY_REASONS; both, and any later spelling of the kind, are hidden.
 * A real sub is a lower-case UUID, so it never looks like one.
 */
export const HIDDEN_VALUE = 'HIDDEN_DUE_TO_SECURITY_REASONS';
const HIDDEN_PATTERN = /^HIDDEN_[A-Z_]*$/;

export function isHidden(value: unknown): boolean {
  return typeof value === 'string' && HIDDEN_PATTERN.test(value);
}

/** The parts of a CloudTrail record this code reads; everything is optional because nothing is trusted. */
export interface CloudTrailDetail {
  readonly eventVersion?: string;
  readonly eventSource?: string;
  readonly eventName?: string;
  readonly eventID?: string;
  readonly eventTime?: string;
  readonly awsRegion?: string;
  readonly errorCode?: string | null;
  readonly errorMessage?: string | null;
  readonly requestParameters?: Record<string, unknown> | null;
  readonly responseElements?: Record<string, unknown> | null;
  readonly additionalEventData?: Record<string, unknown> | null;
  readonly [field: string]: unknown;
}

export type CloudTrailEvent = EventBridgeEvent<typeof CLOUDTRAIL_DETAIL_TYPE, CloudTrailDetail>;

/** Where the sub was found, in the order they are tried. */
export type SubSource =
  | 'additionalEventData.sub'
  | 'requestParameters.username'
  | 'responseElements.user.username'
  | 'responseElements.user.attributes.sub';

export type IgnoreReason =
  /** Not an object, or no detail object: nothing to read. */
  | 'malformed'
  /** Another source, detail type, event source or API call than the rule selects. */
  | 'not_user_event'
  /** The call failed (errorCode set): nothing changed in the pool. */
  | 'failed_call'
  /** The call names another user pool. */
  | 'other_pool'
  /** No usable sub anywhere: the reconcile will find the change. */
  | 'no_sub'
  /** A group event without a group name of Cognito's shape: the reconcile will find the change. */
  | 'no_group';

/** Identifiers safe to log: only values of the expected shape, never free text from the event. */
export interface EventIds {
  readonly eventName?: string;
  readonly eventID?: string;
}

export type UserEvent =
  | (EventIds & {
      /** 'user': the user's attributes or existence changed; 'membership': the groups the user is in. */
      readonly kind: 'user' | 'membership';
      readonly eventName: UserEventName;
      readonly sub: string;
      readonly subSource: SubSource;
    })
  | (EventIds & { readonly kind: 'group'; readonly eventName: GroupEventName; readonly group: string })
  | (EventIds & { readonly kind: 'ignored'; readonly reason: IgnoreReason });

const EVENT_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;
const EVENT_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

function eventIds(detail: Record<string, unknown>): EventIds {
  const { eventName, eventID } = detail;
  return {
    ...(typeof eventName === 'string' && EVENT_NAME_PATTERN.test(eventName) ? { eventName } : {}),
    ...(typeof eventID === 'string' && EVENT_ID_PATTERN.test(eventID) ? { eventID } : {}),
  };
}

function visible(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' && !isHidden(value) ? value : undefined;
}

/** The sub attribute in a list of `{name, value}` (CloudTrail's casing) or `{Name, Value}` (the API's). */
function subAttribute(list: unknown): unknown {
  if (!Array.isArray(list)) return undefined;
  for (const entry of list as unknown[]) {
    if (!isRecord(entry)) continue;
    const name = entry.name ?? entry.Name;
    if (name === 'sub') return entry.value ?? entry.Value;
  }
  return undefined;
}

/**
 * The sub, from the first of these that holds one (Cognito's guide: "records UserSub but not UserName ... for
 * requests that are specific to a user"; where it puts it is not documented, so each is tried in turn):
 * 1. `additionalEventData.sub`, where recorded events carry it; any opaque id (SUB_PATTERN) is accepted;
 * 2. `requestParameters.username`, when it is a UUID and not hidden (in this pool the user name is the sub);
 * 3. `responseElements.user.username` (AdminCreateUser's answer), likewise;
 * 4. the `sub` entry of `responseElements.user.attributes`, likewise.
 * A value of the wrong shape (a forged log line, a hidden marker) is passed over, never logged.
 */
export function subFrom(detail: Record<string, unknown>): { sub: string; subSource: SubSource } | undefined {
  const additional = isRecord(detail.additionalEventData) ? detail.additionalEventData : {};
  const request = isRecord(detail.requestParameters) ? detail.requestParameters : {};
  const response = isRecord(detail.responseElements) ? detail.responseElements : {};
  const user = isRecord(response.user) ? response.user : {};
  const candidates: [SubSource, unknown, RegExp][] = [
    ['additionalEventData.sub', additional.sub, SUB_PATTERN],
    ['requestParameters.username', request.username, COGNITO_SUB_PATTERN],
    ['responseElements.user.username', user.username, COGNITO_SUB_PATTERN],
    ['responseElements.user.attributes.sub', subAttribute(user.attributes), COGNITO_SUB_PATTERN],
  ];
  for (const [subSource, value, pattern] of candidates) {
    const text = visible(value);
    if (text !== undefined && pattern.test(text)) return { sub: text, subSource };
  }
  return undefined;
}

/**
 * Checks the envelope and finds the user. The EventBridge rule already filters on all of this; the function
 * checks again because a rule can be edited, an event replayed from an archive, or the function invoked by hand.
 */
export function userEventFrom(event: unknown, userPoolId: string): UserEvent {
  if (!isRecord(event) || !isRecord(event.detail)) return { kind: 'ignored', reason: 'malformed' };
  const { detail } = event;
  const ids = eventIds(detail);
  if (
    event.source !== COGNITO_EVENT_SOURCE ||
    event['detail-type'] !== CLOUDTRAIL_DETAIL_TYPE ||
    detail.eventSource !== COGNITO_API_SOURCE
  ) {
    return { ...ids, kind: 'ignored', reason: 'not_user_event' };
  }
  const { eventName } = detail;
  if (!isUserEventName(eventName)) return { ...ids, kind: 'ignored', reason: 'not_user_event' };
  // Successful calls have no errorCode; some Cognito records carry an empty one.
  if (detail.errorCode !== undefined && detail.errorCode !== null && detail.errorCode !== '') {
    return { ...ids, kind: 'ignored', reason: 'failed_call' };
  }
  // Calls made with a user's access token name no pool; admin calls do, and must name ours.
  const request = isRecord(detail.requestParameters) ? detail.requestParameters : {};
  const pool = request.userPoolId;
  if (pool !== undefined && pool !== null && !isHidden(pool) && pool !== userPoolId) {
    return { ...ids, kind: 'ignored', reason: 'other_pool' };
  }
  if (GROUP_EVENT_NAME_SET.has(eventName)) {
    // A group name is the group's, not a person's: read from the request, where Cognito records it.
    const group = request.groupName;
    if (!isGroupName(group)) return { ...ids, kind: 'ignored', reason: 'no_group' };
    return { ...ids, kind: 'group', eventName: eventName as GroupEventName, group };
  }
  const found = subFrom(detail);
  if (found === undefined) return { ...ids, kind: 'ignored', reason: 'no_sub' };
  return { ...ids, kind: MEMBERSHIP_EVENT_NAME_SET.has(eventName) ? 'membership' : 'user', eventName, ...found };
}
