// A pool user as the state sync.apply_users writes: what the writer and the reconcile both send.
import { isSynced, type PoolUser } from '../cognito/pool-user';
import { handleCandidates } from './user';
import type { UserState } from './users-repository';

/** The state to write for a pool user read at `readAt`; a status outside SYNCED_STATUSES is only seen. */
export function userStateOf(user: PoolUser, readAt: Date | string): UserState {
  return {
    sub: user.cognitoUserId,
    email: user.email,
    name: user.displayName,
    handle: user.handle,
    handleCandidates: handleCandidates(user.handle, user.cognitoUserId),
    enabled: user.enabled,
    modifiedAt: user.lastModified,
    readAt: typeof readAt === 'string' ? readAt : readAt.toISOString(),
    seenOnly: !isSynced(user),
  };
}
