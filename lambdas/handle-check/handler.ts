// The handle check as a function of its own, in the VPC as handle_checker: `{"handle": "..."}` in,
// `{"taken": boolean}` out. Invoked only by a PreSignUp that runs outside the VPC (`-c linkFederatedByEmail=true`).
import type { Context } from 'aws-lambda';
import { databasePort } from '../postgres/connection';
import { describeError, InvalidEventError, toCallerError } from '../runtime/errors';
import { createLogger, type Logger } from '../runtime/logger';
import { isRecord } from '../runtime/records';
import { HANDLE_PATTERN } from '../users/user';
import { createHandleDirectory } from '../users/postgres/postgres-users';
import type { HandleDirectory } from '../users/users-repository';
import type { HandleCheckSettings } from './settings';

export interface HandleCheckAnswer {
  readonly taken: boolean;
}

export interface HandleCheckHandlerDeps {
  /** @default JSON lines on stdout for service `handle-check` */
  readonly logger?: Logger;
  /** @default sync.handle_taken over a connection to `settings.database`, closed after each lookup */
  readonly handles?: HandleDirectory;
}

export interface HandleCheckHandler {
  (event: unknown, context?: Pick<Context, 'awsRequestId'>): Promise<HandleCheckAnswer>;
  readonly close: () => Promise<void>;
}

/** The handle of a well-formed request; PreSignUp sends only handles that match the rule. */
export function handleOf(event: unknown): string {
  if (!isRecord(event)) throw new InvalidEventError('event', 'must be an object');
  const { handle } = event;
  if (typeof handle !== 'string') throw new InvalidEventError('handle', 'must be a string');
  if (!HANDLE_PATTERN.test(handle)) throw new InvalidEventError('handle', 'does not match the handle rule');
  return handle;
}

export function createHandler(settings: HandleCheckSettings, deps: HandleCheckHandlerDeps = {}): HandleCheckHandler {
  const logger = deps.logger ?? createLogger({ service: 'handle-check' });
  // The same budget as the in-VPC PreSignUp's own lookup: one short attempt.
  const handles = databasePort(
    deps.handles,
    settings.database,
    { applicationName: 'handle-check', timeouts: { connectMs: 1000, statementMs: 500, queryMs: 1000 }, budgetMs: 2000 },
    createHandleDirectory,
  );

  const handler = async (event: unknown, context?: Pick<Context, 'awsRequestId'>): Promise<HandleCheckAnswer> => {
    const log = logger.child({ requestId: context?.awsRequestId });
    try {
      const taken = await handles.port.isTaken(handleOf(event));
      // Never the handle: it is personal data.
      log.info('handle checked', { outcome: taken ? 'taken' : 'free' });
      return { taken };
    } catch (error) {
      log.error('handle check failed', describeError(error));
      throw toCallerError(error, context?.awsRequestId);
    } finally {
      // Closed after every lookup, as the in-VPC PreSignUp does: warm containers hold no idle connection.
      await handles.close();
    }
  };
  return Object.assign(handler, { close: handles.close });
}
