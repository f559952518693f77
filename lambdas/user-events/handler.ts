// Lambda adapter for the user-events function, the EventBridge rule's target: wiring and nothing else.
// Asynchronous invocation: a thrown error makes Lambda retry, and then the rule's dead-letter queue applies.
import type { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import type { CloudTrailEvent } from '../cognito/cloudtrail-event';
import { createLogger, type Logger } from '../runtime/logger';
import { sqsSyncQueue } from '../sync/sqs/sqs-sync-queue';
import type { SyncQueue } from '../sync/sync-queue';
import { cognitoGroupReader, cognitoUserReader, createCognitoClient } from './cognito-user-reader';
import { handleUserEvent, type UserEventResult } from './core';
import type { UserEventsSettings } from './settings';

export interface UserEventsHandlerDeps {
  /** @default JSON lines on stdout for service `user-events` */
  readonly logger?: Logger;
  /** @default createCognitoClient(): three attempts, short timeouts, endpoint from the environment */
  readonly cognito?: CognitoIdentityProviderClient;
  /** @default the SQS queue at `settings.syncQueueUrl` */
  readonly queue?: SyncQueue;
  /** @default Date.now */
  readonly clock?: () => number;
}

export type UserEventsHandler = (
  event: CloudTrailEvent,
  context?: { readonly awsRequestId?: string },
) => Promise<UserEventResult>;

/** Builds the handler once per container; the clients are made here, once, and reused by every event. */
export function createHandler(settings: UserEventsSettings, deps: UserEventsHandlerDeps = {}): UserEventsHandler {
  const logger = deps.logger ?? createLogger({ service: 'user-events' });
  const cognito = deps.cognito ?? createCognitoClient();
  const reader = cognitoUserReader(cognito, settings.userPoolId);
  const groups = cognitoGroupReader(cognito, settings.userPoolId);
  const queue = deps.queue ?? sqsSyncQueue({ queueUrl: settings.syncQueueUrl });
  const clock = deps.clock ?? Date.now;
  return (event, context) =>
    handleUserEvent(event, settings.userPoolId, {
      reader,
      groups,
      queue,
      clock,
      logger: logger.child({ requestId: context?.awsRequestId }),
    });
}
