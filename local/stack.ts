// The whole local sign-up flow on one machine: embedded PostgreSQL, the sign-up functions behind a Lambda
// Invoke API, and cognito-local whose PreSignUp and Post Confirmation triggers call them. `npm start` and the
// end-to-end test both start it through startLocalStack.
import { join, resolve } from 'node:path';
import { createHandler as createPostConfirmationHandler } from '../lambdas/post-confirmation/handler';
import { createHandler as createPreSignUpHandler } from '../lambdas/pre-sign-up/handler';
import { ensureUserPool, localCognitoClient, startCognitoLocal, type CognitoLocal } from './cognito';
import { startInvokeServer, type InvokeServer } from './invoke-server';
import { assertPortsFree } from './ports';
import { describeSeed, startLocalPostgres, type LocalPostgres } from './postgres';
import {
  DEFAULT_DATA_DIR,
  FUNCTION_NAME,
  PRE_SIGN_UP_FUNCTION_NAME,
  type StackInfo,
  writeStackInfo,
} from './stack-info';

export const DEFAULT_PORTS = { pg: 54329, lambda: 3001, cognito: 9229 } as const;

export interface LocalStackOptions {
  /** State directory: the database cluster, cognito-local's pools, stack.json. @default `.local` */
  readonly dir?: string;
  readonly pgPort?: number;
  readonly lambdaPort?: number;
  readonly cognitoPort?: number;
  /** Progress lines for a person watching the start. */
  readonly progress?: (line: string) => void;
}

export interface LocalStack {
  readonly info: StackInfo;
  readonly stackFile: string;
  readonly databaseInitialised: boolean;
  /** Resolves with a reason if a part of the stack dies on its own (never during stop()). */
  readonly failed: Promise<string>;
  /**
   * Stops PostgreSQL alone, leaving cognito-local and the invoke API up: a developer's stopped database, which
   * `npm run smoke -- --local` must name (test/bin/smoke-local.test.ts). stop() still stops the rest.
   */
  stopDatabase(): Promise<void>;
  /** Stops cognito-local, the invoke server and PostgreSQL; safe to call more than once. */
  stop(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const dir = resolve(options.dir ?? DEFAULT_DATA_DIR);
  const ports = {
    pg: options.pgPort ?? DEFAULT_PORTS.pg,
    lambda: options.lambdaPort ?? DEFAULT_PORTS.lambda,
    cognito: options.cognitoPort ?? DEFAULT_PORTS.cognito,
  };
  const progress = options.progress ?? (() => undefined);
  await assertPortsFree([
    { port: ports.pg, service: 'PostgreSQL', flag: '--pg-port', envVariable: 'LOCAL_PG_PORT' },
    { port: ports.lambda, service: 'Lambda Invoke API', flag: '--lambda-port', envVariable: 'LOCAL_LAMBDA_PORT' },
    { port: ports.cognito, service: 'cognito-local', flag: '--cognito-port', envVariable: 'LOCAL_COGNITO_PORT' },
  ]);

  const stops: (() => Promise<void>)[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    // Reverse start order: nothing calls a function whose database is already gone.
    stopping ??= (async () => {
      for (const fn of stops.reverse()) await fn().catch(() => undefined);
    })();
    return stopping;
  };

  try {
    progress(`PostgreSQL: starting on port ${ports.pg} (data in ${join(dir, 'postgres')})`);
    const pg: LocalPostgres = await startLocalPostgres({ dir, port: ports.pg, onStatus: progress });
    stops.push(() => pg.stop());
    progress(
      `PostgreSQL: ${pg.initialised ? 'initialised, ' : ''}` +
        `${pg.migrations.length === 0 ? 'migrations up to date' : `applied ${pg.migrations.join(', ')}`}, ` +
        describeSeed(pg.seed),
    );

    // The same factories the Lambda entry points call, with the local database instead of the environment.
    const database = { connectionUrl: pg.url };
    const postConfirmation = createPostConfirmationHandler({ database });
    const preSignUp = createPreSignUpHandler({ database });
    stops.push(
      () => postConfirmation.close(),
      () => preSignUp.close(),
    );
    const invoke: InvokeServer = await startInvokeServer({
      port: ports.lambda,
      functions: { [FUNCTION_NAME]: postConfirmation, [PRE_SIGN_UP_FUNCTION_NAME]: preSignUp },
    });
    stops.push(() => invoke.close());
    progress(`Lambda Invoke API: ${invoke.endpoint} serves ${PRE_SIGN_UP_FUNCTION_NAME} and ${FUNCTION_NAME}`);

    const cognito: CognitoLocal = await startCognitoLocal({
      dir,
      port: ports.cognito,
      lambdaEndpoint: invoke.endpoint,
      triggers: { PreSignUp: PRE_SIGN_UP_FUNCTION_NAME, PostConfirmation: FUNCTION_NAME },
    });
    stops.push(() => cognito.stop());
    const client = localCognitoClient(cognito.endpoint);
    let ids;
    try {
      ids = await ensureUserPool(client);
    } finally {
      client.destroy();
    }
    progress(`cognito-local: ${cognito.endpoint}, user pool ${ids.userPoolId}`);

    const info: StackInfo = {
      connectionUrl: pg.url,
      cognitoEndpoint: cognito.endpoint,
      userPoolId: ids.userPoolId,
      userPoolClientId: ids.userPoolClientId,
      lambdaEndpoint: invoke.endpoint,
      functionName: FUNCTION_NAME,
      region: 'us-east-1',
      dataDir: dir,
      cognitoLogFile: cognito.logFile,
    };
    const stackFile = await writeStackInfo(dir, info);
    const failed = new Promise<string>((resolveFailure) => {
      void cognito.exited.then(() => {
        if (!stopping) resolveFailure(`cognito-local exited on its own; its output is in ${cognito.logFile}`);
      });
    });
    return { info, stackFile, databaseInitialised: pg.initialised, failed, stopDatabase: () => pg.stop(), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
