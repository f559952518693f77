// Cognito's own shapes for the identifiers it hands out: checked before one is logged, queued or sent to AWS.

/** A user pool id is `<region>_<id>`. */
export const USER_POOL_ID_PATTERN = /^[\w-]+_[0-9a-zA-Z]+$/;
/** Cognito's documented maximum length of a user pool id. */
export const MAX_USER_POOL_ID_LENGTH = 55;
/** A user name is at most 128 characters. */
export const MAX_USER_NAME_LENGTH = 128;

export function isUserPoolId(value: string): boolean {
  return value.length <= MAX_USER_POOL_ID_LENGTH && USER_POOL_ID_PATTERN.test(value);
}

export function isUserName(value: string): boolean {
  return value.length <= MAX_USER_NAME_LENGTH && value.isWellFormed() && !value.includes('\u0000');
}

/**
 * A group name as Cognito's API reference defines GroupName: 1 to 128 characters of letters, marks, symbols,
 * numbers and punctuation (`[\p{L}\p{M}\p{S}\p{N}\p{P}]+`), so no spaces and no control characters; the
 * database's own rule (public.user_groups) is the same length in characters.
 * (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateGroup.html)
 */
export const GROUP_NAME_PATTERN = /^[\p{L}\p{M}\p{S}\p{N}\p{P}]{1,128}$/u;

export function isGroupName(value: unknown): value is string {
  return typeof value === 'string' && GROUP_NAME_PATTERN.test(value);
}
