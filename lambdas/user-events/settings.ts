import { isUserPoolId } from '../cognito/ids';
import { ConfigurationError } from '../runtime/errors';
import { checkUrl, type Env, required } from '../runtime/env';

export interface UserEventsSettings {
  /** The pool whose users are synced; events naming another pool are ignored. */
  readonly userPoolId: string;
  /** The writer's queue (the replay function's). */
  readonly syncQueueUrl: string;
}

/** Reads `USER_POOL_ID` and `SYNC_QUEUE_URL`; throws a ConfigurationError naming what is wrong. */
export function settingsFromEnv(env: Env): UserEventsSettings {
  const userPoolId = required(env, 'USER_POOL_ID');
  if (!isUserPoolId(userPoolId)) throw new ConfigurationError('USER_POOL_ID', 'is not a user pool id (<region>_<id>)');
  const syncQueueUrl = checkUrl('SYNC_QUEUE_URL', required(env, 'SYNC_QUEUE_URL'), ['https:', 'http:']);
  return { userPoolId, syncQueueUrl };
}
