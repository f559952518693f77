// A user as the pool holds them at one moment: what the event function and the reconcile (both through ListUsers)
// and the writer agree on. Events are only hints; this, read from the pool, is the state that gets written.
import { InvalidEventError } from '../runtime/errors';
import { userFromAttributes, type NewUser } from '../users/user';
import { isSub } from './sub';

/**
 * Statuses of a real account: confirmed, federated (EXTERNAL_PROVIDER: whether Post Confirmation fires for them
 * is disputed in AWS's own documents, so the reconcile covers them either way), created by an administrator
 * (FORCE_CHANGE_PASSWORD: Post Confirmation never fires for them), or imported/reset (RESET_REQUIRED).
 * UNCONFIRMED users are not users yet: they are seen (never pruned) but not written.
 */
export const SYNCED_STATUSES: ReadonlySet<string> = new Set([
  'CONFIRMED',
  'EXTERNAL_PROVIDER',
  'FORCE_CHANGE_PASSWORD',
  'RESET_REQUIRED',
]);

export interface PoolUser extends NewUser {
  readonly enabled: boolean;
  /** Cognito's UserStatus, `UNKNOWN` when absent. */
  readonly status: string;
  /** Cognito's UserLastModifiedDate (informational: disable/enable may not move it), ISO 8601. */
  readonly lastModified: string | null;
}

/** The parts of ListUsers' `UserType` (and of an `AdminGetUser` response) that matter here (both shapes). */
export interface CognitoUserShape {
  readonly Username?: string | undefined;
  readonly Attributes?: readonly { Name?: string | undefined; Value?: string | undefined }[] | undefined;
  readonly UserAttributes?: readonly { Name?: string | undefined; Value?: string | undefined }[] | undefined;
  readonly Enabled?: boolean | undefined;
  readonly UserStatus?: string | undefined;
  readonly UserLastModifiedDate?: Date | undefined;
}

/** Cognito's [{Name, Value}] list as the record a trigger receives in request.userAttributes. */
export function attributeRecord(list: CognitoUserShape['Attributes']): Record<string, string> {
  const record: Record<string, string> = {};
  for (const attribute of list ?? []) {
    if (attribute.Name !== undefined && attribute.Value !== undefined) record[attribute.Name] = attribute.Value;
  }
  return record;
}

/**
 * Validates and maps a Cognito user. The sub comes from the `sub` attribute; for a local user of a pool that
 * signs in by email the user name is the sub too, so a user name shaped like one stands in when the attribute
 * is missing (a federated user's name, `Google_…`, never has that shape).
 * Throws InvalidEventError naming the field, never quoting the value.
 */
export function poolUserFrom(user: CognitoUserShape, path = 'user'): PoolUser {
  const attributes = attributeRecord(user.Attributes ?? user.UserAttributes);
  if (attributes.sub === undefined && isSub(user.Username)) {
    attributes.sub = user.Username;
  }
  const mapped = userFromAttributes(attributes, `${path}.Attributes`);
  if (user.Enabled !== undefined && typeof user.Enabled !== 'boolean')
    throw new InvalidEventError(`${path}.Enabled`, 'must be a boolean');
  const modified = user.UserLastModifiedDate;
  if (modified !== undefined && !(modified instanceof Date && Number.isFinite(modified.getTime()))) {
    throw new InvalidEventError(`${path}.UserLastModifiedDate`, 'must be a date');
  }
  return {
    ...mapped,
    // AdminGetUser and ListUsers always say; a missing flag is read as enabled, Cognito's default.
    enabled: user.Enabled ?? true,
    status: typeof user.UserStatus === 'string' && /^[A-Z_]{1,32}$/.test(user.UserStatus) ? user.UserStatus : 'UNKNOWN',
    lastModified: modified === undefined ? null : modified.toISOString(),
  };
}

/** Whether the user belongs in public.users (see SYNCED_STATUSES). */
export function isSynced(user: Pick<PoolUser, 'status'>): boolean {
  return SYNCED_STATUSES.has(user.status);
}
