// Lambda adapter for the Cognito PreSignUp trigger: wiring, logging, and nothing else.
import type { Context } from 'aws-lambda';
import { databasePort } from '../postgres/connection';
import { describeError, toCallerError } from '../runtime/errors';
import { HandleRefusedError } from '../cognito/errors';
import { createLogger, type Logger } from '../runtime/logger';
import { createHandleDirectory } from '../users/postgres/postgres-users';
import type { HandleDirectory } from '../users/users-repository';
import { cognitoLinker, createLinkingClient } from './cognito-linker';
import { handlePreSignUp, type LinkingDeps } from './core';
import { createHandleCheckClient, lambdaHandleDirectory } from './lambda-handle-directory';
import type { IdentityLinker } from './linking';
import type { PreSignUpSettings } from './settings';

export interface PreSignUpHandlerDeps {
  /** @default JSON lines on stdout for service `pre-sign-up` */
  readonly logger?: Logger;
  /** @default sync.handle_taken (as handle_checker in AWS), over a connection to `settings.database` opened for each lookup */
  readonly handles?: HandleDirectory;
  /** @default Cognito (ListUsers, AdminLinkProviderForUser) when `settings.linkFederatedByEmail` */
  readonly linker?: IdentityLinker;
}

/**
 * Linking's share of the 5 s: a ListUsers and an AdminLinkProviderForUser, each a few tens of ms warm
 * (docs/federation.md), with room for one throttled retry; past it the sign-in goes ahead unlinked.
 */
export const LINKING_BUDGET_MS = 3000;

export interface PreSignUpHandler {
  <E>(event: E, context?: Pick<Context, 'awsRequestId'>): Promise<E>;
  /** Closes the database connection, if one is open. */
  readonly close: () => Promise<void>;
}

export function createHandler(settings: PreSignUpSettings, deps: PreSignUpHandlerDeps = {}): PreSignUpHandler {
  const logger = deps.logger ?? createLogger({ service: 'pre-sign-up' });
  // A read-only lookup that must never hold the sign-up for long: one short attempt, no retry budget to spare.
  // Outside the VPC (linking on) the in-VPC handle-check function makes the same lookup.
  const handles =
    'database' in settings
      ? databasePort(
          deps.handles,
          settings.database,
          {
            applicationName: 'pre-sign-up',
            timeouts: { connectMs: 1000, statementMs: 500, queryMs: 1000 },
            budgetMs: 2000,
          },
          createHandleDirectory,
        )
      : {
          port: deps.handles ?? lambdaHandleDirectory(createHandleCheckClient(), settings.handleCheckFunctionName),
          close: () => Promise.resolve(),
        };
  const linking: LinkingDeps | undefined = settings.linkFederatedByEmail
    ? { linker: deps.linker ?? cognitoLinker(createLinkingClient()), budgetMs: LINKING_BUDGET_MS }
    : undefined;

  const handler = async <E>(event: E, context?: Pick<Context, 'awsRequestId'>): Promise<E> => {
    const log = logger.child({ requestId: context?.awsRequestId });
    try {
      return await handlePreSignUp(event, { handles: handles.port, logger: log, ...(linking ? { linking } : {}) });
    } catch (error) {
      // A refused handle is the function doing its job (already logged), not a failure to alarm on.
      if (error instanceof HandleRefusedError) throw error;
      log.error('pre-sign-up failed', describeError(error));
      throw toCallerError(error, context?.awsRequestId);
    } finally {
      // Unlike the post-confirmation trigger, the connection is closed after every lookup: warm pre-sign-up
      // containers must not sit on idle connections the post-confirmation function needs (this function has no
      // reserved concurrency, so that a burst of sign-ups is never throttled), and one connect per sign-up is
      // cheap at sign-up rates.
      await handles.close();
    }
  };
  return Object.assign(handler, { close: handles.close });
}
