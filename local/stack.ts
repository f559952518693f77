// The whole local sign-up flow on one machine: embedded PostgreSQL, the post-confirmation handler behind a
// Lambda Invoke API, and cognito-local whose Post Confirmation trigger calls it. `npm start` and the
// end-to-end test both start it through startLocalStack.
import { chmod, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ensureUserPool, localCognitoClient, startCognitoLocal, type CognitoLocal } from './cognito';
import { startInvokeServer, type InvokeServer, type LocalHandler } from './invoke-server';
import { assertPortsFree } from './ports';
import { startLocalPostgres, type LocalPostgres } from './postgres';

export const DEFAULT_DATA_DIR = resolve(__dirname, '..', '.local');
export const DEFAULT_PORTS = { pg: 54329, lambda: 3001, cognito: 9229 } as const;
/** The name cognito-local's trigger invokes: the function's construct id in the CDK app. */
export const FUNCTION_NAME = 'PostConfirmationFunction';

/** What `.local/stack.json` holds; DESIGN.md fixes the first six keys. */
export interface StackInfo {
  readonly connectionUrl: string;
  readonly cognitoEndpoint: string;
  readonly userPoolId: string;
  readonly userPoolClientId: string;
  readonly lambdaEndpoint: string;
  readonly functionName: string;
  readonly region: string;
  readonly dataDir: string;
  readonly cognitoLogFile: string;
}

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
  /** Stops cognito-local, the invoke server and PostgreSQL; safe to call more than once. */
  stop(): Promise<void>;
}

export function stackFilePath(dir: string = DEFAULT_DATA_DIR): string {
  return join(dir, 'stack.json');
}

let handlerConnectionUrl: string | undefined;

/**
 * The real Lambda entry point. It reads CONNECTION_URL once, when its module loads, so the variable is set
 * just for the import; a module is loaded once per process, hence the guard against a second database.
 */
async function loadPostConfirmationHandler(connectionUrl: string): Promise<LocalHandler> {
  if (handlerConnectionUrl !== undefined && handlerConnectionUrl !== connectionUrl) {
    throw new Error('the post-confirmation handler is already loaded for another database in this process');
  }
  const previous = process.env.CONNECTION_URL;
  process.env.CONNECTION_URL = connectionUrl;
  try {
    const { handler } = await import('../lambdas/post-confirmation/index');
    handlerConnectionUrl = connectionUrl;
    return (event, context) => handler(event, context);
  } finally {
    if (previous === undefined) delete process.env.CONNECTION_URL;
    else process.env.CONNECTION_URL = previous;
  }
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
    const pg: LocalPostgres = await startLocalPostgres({ dir, port: ports.pg });
    stops.push(() => pg.stop());
    progress(
      `PostgreSQL: ${pg.initialised ? 'initialised, ' : ''}` +
        `${pg.migrations.length === 0 ? 'migrations up to date' : `applied ${pg.migrations.join(', ')}`}, seeded`,
    );

    const handler = await loadPostConfirmationHandler(pg.url);
    const invoke: InvokeServer = await startInvokeServer({ port: ports.lambda, functions: { [FUNCTION_NAME]: handler } });
    stops.push(() => invoke.close());
    progress(`Lambda Invoke API: ${invoke.endpoint} serves ${FUNCTION_NAME}`);

    const cognito: CognitoLocal = await startCognitoLocal({
      dir,
      port: ports.cognito,
      lambdaEndpoint: invoke.endpoint,
      postConfirmationFunction: FUNCTION_NAME,
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
    const stackFile = stackFilePath(dir);
    // It holds the local database password: readable by its owner only.
    await writeFile(stackFile, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
    await chmod(stackFile, 0o600);
    const failed = new Promise<string>((resolveFailure) => {
      void cognito.exited.then(() => {
        if (!stopping) resolveFailure(`cognito-local exited on its own; its output is in ${cognito.logFile}`);
      });
    });
    return { info, stackFile, databaseInitialised: pg.initialised, failed, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
