import { databaseSettingsFromEnv, type DatabaseSettings } from '../postgres/connection-source';
import { type Env, optionalUrl } from '../runtime/env';

export interface PostConfirmationSettings {
  readonly database: DatabaseSettings;
  /**
   * The sync queue (SQS) a sign-up goes to when the database cannot take it, for the writer to apply later.
   * @default none: the DatabaseUnavailableError reaches Cognito (the local stack)
   */
  readonly fallbackQueueUrl?: string;
}

/** Reads `CONNECTION_URL` or the IAM variables, and `FALLBACK_QUEUE_URL` (in AWS); throws a ConfigurationError naming what is wrong. */
export function settingsFromEnv(env: Env): PostConfirmationSettings {
  const database = databaseSettingsFromEnv(env);
  const fallbackQueueUrl = optionalUrl(env, 'FALLBACK_QUEUE_URL', ['https:', 'http:']);
  return fallbackQueueUrl === undefined ? { database } : { database, fallbackQueueUrl };
}
