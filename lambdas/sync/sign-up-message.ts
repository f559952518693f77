// The queued sign-up (version 1 of the sync queue's messages): what the post-confirmation function sends to the
// sync queue when the database cannot take it, and the writer applies later. Its format never changes: messages
// of it may wait in the queue across a deploy.
import { isUserName, isUserPoolId } from '../cognito/ids';
import { InvalidEventError } from '../runtime/errors';
import { isRecord } from '../runtime/records';
import { userFromAttributes, type NewUser } from '../users/user';

export const SIGN_UP_MESSAGE_VERSION = 1;

/**
 * What the writer needs and nothing more. It is personal data at rest (email, name, handle): the queue is
 * encrypted, and nothing else from the Cognito event (client metadata, other attributes) is kept.
 */
export interface SignUpMessage {
  readonly version: typeof SIGN_UP_MESSAGE_VERSION;
  readonly triggerSource: string;
  readonly userPoolId?: string;
  readonly userName?: string;
  readonly userAttributes: {
    readonly sub: string;
    readonly email?: string;
    readonly name?: string;
    readonly preferred_username?: string;
  };
}

function optionalText(value: unknown, valid: (text: string) => boolean): string | undefined {
  return typeof value === 'string' && value !== '' && valid(value) ? value : undefined;
}

/** Builds the message from a validated user, so only checked values ever reach the queue. */
export function signUpMessageFor(triggerSource: string, event: Record<string, unknown>, user: NewUser): SignUpMessage {
  const userPoolId = optionalText(event.userPoolId, isUserPoolId);
  const userName = optionalText(event.userName, isUserName);
  return {
    version: SIGN_UP_MESSAGE_VERSION,
    triggerSource,
    ...(userPoolId ? { userPoolId } : {}),
    ...(userName ? { userName } : {}),
    userAttributes: {
      sub: user.cognitoUserId,
      ...(user.email !== null ? { email: user.email } : {}),
      ...(user.displayName !== null ? { name: user.displayName } : {}),
      ...(user.handle !== null ? { preferred_username: user.handle } : {}),
    },
  };
}

/** The body of a queue message as a JSON object, before its version is known. Never quotes the body. */
export function parseMessageBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'string') throw new InvalidEventError('body', 'must be a string');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new InvalidEventError('body', 'is not JSON');
  }
  if (!isRecord(parsed)) throw new InvalidEventError('body', 'must be a JSON object');
  return parsed;
}

/**
 * Parses an SQS message body back into a user. The body crossed a trust boundary (anyone with send
 * permission could have written it), so it is validated exactly like a Cognito event.
 */
export function parseSignUpMessage(body: unknown, expectedTriggerSource: string): NewUser {
  return signUpUserFrom(parseMessageBody(body), expectedTriggerSource);
}

/** The version-1 message's user, from a body parseMessageBody already turned into an object. */
export function signUpUserFrom(parsed: Record<string, unknown>, expectedTriggerSource: string): NewUser {
  if (parsed.version !== SIGN_UP_MESSAGE_VERSION)
    throw new InvalidEventError('body.version', `must be ${SIGN_UP_MESSAGE_VERSION}`);
  if (parsed.triggerSource !== expectedTriggerSource) {
    throw new InvalidEventError('body.triggerSource', `must be ${expectedTriggerSource}`);
  }
  return userFromAttributes(parsed.userAttributes, 'body.userAttributes');
}
