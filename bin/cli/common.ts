// The command-line plumbing shared by `db`, `rds` and `users`: argument parsing, connection URLs, password
// redaction, exit codes and the one place where an error becomes a line on stderr and an exit code.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { errorCode, isConnectionError } from '../../lambdas/postgres/error-codes';
import { required } from '../../lambdas/runtime/env';
import { ConfigurationError, InvalidEventError } from '../../lambdas/runtime/errors';
import { DatabaseUnavailableError } from '../../lambdas/postgres/errors';

/** Exit codes, documented in docs/operations.md. 64-78 follow BSD sysexits.h. */
export const EXIT = {
  OK: 0,
  /** Anything not covered below: an SQL error, an unexpected AWS error. */
  FAILURE: 1,
  /** The resource is not in a state the request fits: stopping a stopped instance, two rules with our description. */
  WRONG_STATE: 3,
  /** Refused on purpose: a destructive command on production without `--yes`, unverified TLS to production. */
  REFUSED: 4,
  /** `db drop` found open sessions on the database (rerun with `--force`). */
  BUSY: 5,
  /** Waited for an instance to settle and gave up. */
  TIMEOUT: 6,
  /** Never on production, whatever the flags: `rds allow-ip --stage prod` (prod is reached through the VPC only). */
  NOT_ON_PROD: 7,
  /** Bad command line: unknown command or option, invalid value. */
  USAGE: 64,
  /** The database or the AWS endpoint could not be reached. */
  UNAVAILABLE: 69,
  /** AWS kept throttling after the SDK's retries. */
  TEMPFAIL: 75,
  /** Missing or malformed configuration: an unset variable, a malformed URL, no credentials or region, no stack output. */
  CONFIG: 78,
  /** A program the command needs (psql) is not installed. */
  NOT_FOUND: 127,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error meant for the operator: its message is printed as is and it carries the exit code. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.FAILURE,
  ) {
    super(message);
  }
}

/**
 * The AWS SDK v3 prints an 8-line NodeVersionSupportWarning on every command under Node.js 20 (the pinned
 * SDK runs there; releases from 2027 will not). Its own switch turns that warning alone off
 * (@aws-sdk/core's emitWarningIfUnsupportedVersion reads AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED);
 * set by a command's entry point before any client exists, unless the caller set it either way.
 */
export const SDK_NODE_WARNING_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

export function quietSdkNodeWarning(env: NodeJS.ProcessEnv): void {
  env[SDK_NODE_WARNING_SWITCH] ??= 'true';
}

/** Where a command writes. Injected so that tests capture output. */
export interface Output {
  /** One line to stdout: results. */
  out(line: string): void;
  /** One line to stderr: progress, warnings, errors. */
  err(line: string): void;
}

export const processOutput: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** node:util parseArgs in strict mode, with its errors turned into a usage error that names the problem. */
export function parseCommandLine<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  usage: string,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new CliError(`${message}\n${usage}`, EXIT.USAGE);
  }
}

/** `-h`/`--help`: prints the usage on stdout and gives the exit code to return; undefined when help was not asked for. */
export function helpExit(
  values: { readonly help?: boolean | undefined },
  usage: string,
  output: Output,
): ExitCode | undefined {
  if (values.help !== true) return undefined;
  output.out(usage);
  return EXIT.OK;
}

/** `<command> [options]`: the options' values and the command (undefined when none is given); a second positional is a usage error. */
export function parseSubcommand<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  usage: string,
) {
  const { values, positionals } = parseCommandLine(argv, options, usage);
  const [command, ...rest] = positionals;
  if (rest.length > 0)
    throw new CliError(`unexpected argument ${JSON.stringify(rest[0]?.slice(0, 40))}\n${usage}`, EXIT.USAGE);
  return { values, command };
}

/** A PostgreSQL connection URL, checked and taken apart with the WHATWG URL parser. */
export interface ConnectionUrl {
  /** The URL as given (contains the password: never print it). */
  readonly url: string;
  /** The database named in the path, decoded. */
  readonly database: string;
  /** The same URL with the password replaced by `***`: safe to print. */
  readonly redacted: string;
  readonly parsed: URL;
}

export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '<unparseable URL>';
  }
}

const URL_WITH_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@/?#\s]*@/gi;

/** Removes the password of any `scheme://user:password@` URL in free text (an error message quoting a URL). */
export function redactText(text: string): string {
  return text.replace(URL_WITH_PASSWORD, '$1***@');
}

export function parseConnectionUrl(variable: string, value: string): ConnectionUrl {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    // The value itself is not printed: a malformed URL may still hold a password.
    throw new ConfigurationError(variable, 'is not a valid URL (expected postgres://user:password@host:5432/database)');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ConfigurationError(variable, `must start with postgres:// or postgresql://, not ${parsed.protocol}//`);
  }
  if (!parsed.hostname) throw new ConfigurationError(variable, 'has no host');
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!database) throw new ConfigurationError(variable, 'names no database (the path after the host, as in /cruddur)');
  if (database.includes('/')) throw new ConfigurationError(variable, 'has a path that is not a single database name');
  return { url: value, database, redacted: redactUrl(value), parsed };
}

/** The variable that holds the URL for the chosen environment. */
export function connectionVariable(prod: boolean): 'PROD_CONNECTION_URL' | 'CONNECTION_URL' {
  return prod ? 'PROD_CONNECTION_URL' : 'CONNECTION_URL';
}

export function connectionUrlFromEnv(env: NodeJS.ProcessEnv, prod: boolean): ConnectionUrl {
  const variable = connectionVariable(prod);
  return parseConnectionUrl(variable, required(env, variable));
}

/** The same server and credentials, another database: how `create` and `drop` reach the maintenance database. */
export function withDatabase(connection: ConnectionUrl, database: string): string {
  const url = new URL(connection.url);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

// AWS SDK v3 error names that mean "slow down"; the SDK has already retried them when they reach us.
const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
]);

function isAwsCallError(error: Error): boolean {
  return typeof (error as { $metadata?: unknown }).$metadata === 'object';
}

function awsAttempts(error: Error): number | undefined {
  const metadata = (error as { $metadata?: { attempts?: unknown } }).$metadata;
  return typeof metadata?.attempts === 'number' ? metadata.attempts : undefined;
}

/**
 * Maps a thrown value to a printable message and an exit code. Our own messages only ever quote redacted URLs;
 * foreign messages (pg, the SDK) are passed through redactText in case one quotes a URL.
 */
export function describeFailure(error: unknown): { message: string; exitCode: number } {
  const safe = (text: string) => redactText(text);
  if (error instanceof CliError) return { message: safe(error.message), exitCode: error.exitCode };
  if (error instanceof ConfigurationError) return { message: safe(error.message), exitCode: EXIT.CONFIG };
  if (error instanceof DatabaseUnavailableError) return { message: safe(error.message), exitCode: EXIT.UNAVAILABLE };
  if (error instanceof InvalidEventError) return { message: error.message, exitCode: EXIT.FAILURE };
  if (!(error instanceof Error))
    return { message: `unexpected failure: ${safe(String(error))}`, exitCode: EXIT.FAILURE };
  if (THROTTLING.has(error.name)) {
    const attempts = awsAttempts(error);
    return {
      message: `AWS throttled the request${attempts ? ` (${attempts} attempts)` : ''} (${error.name}); wait a minute and run it again, or raise AWS_MAX_ATTEMPTS`,
      exitCode: EXIT.TEMPFAIL,
    };
  }
  if (error.name === 'CredentialsProviderError') {
    return {
      message: `no AWS credentials found by the standard chain (AWS_PROFILE, environment, SSO, instance role): ${safe(error.message)}`,
      exitCode: EXIT.CONFIG,
    };
  }
  if (/Region is missing/i.test(error.message)) {
    return {
      message: 'no AWS region configured: set AWS_REGION or a region in your AWS profile',
      exitCode: EXIT.CONFIG,
    };
  }
  const code = errorCode(error);
  // The SDK marks every error of a client call with $metadata (attempts, retry delay), network failures too:
  // such an error is the AWS API's, never the database's.
  if (isConnectionError(error) && isAwsCallError(error)) {
    const attempts = awsAttempts(error);
    return {
      message: `cannot reach the AWS API${code !== undefined ? ` (${code}${attempts ? `, ${attempts} attempt${attempts === 1 ? '' : 's'}` : ''})` : ''}: ${safe(error.message)}; check the network, AWS_REGION and AWS_ENDPOINT_URL`,
      exitCode: EXIT.UNAVAILABLE,
    };
  }
  if (isConnectionError(error)) {
    return {
      message: `cannot reach the database${code !== undefined ? ` (${code})` : ''}: ${safe(error.message)}`,
      exitCode: EXIT.UNAVAILABLE,
    };
  }
  return {
    message: `${error.name}${code !== undefined ? ` ${code}` : ''}: ${safe(error.message)}`,
    exitCode: EXIT.FAILURE,
  };
}

/** Runs a command's `main` when the file is executed directly; a rejected main is one line and exit 1. */
export function runMain(name: string, main: () => Promise<number>): void {
  quietSdkNodeWarning(process.env);
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      const { message, exitCode } = describeFailure(error);
      process.stderr.write(`${name}: ${message}\n`);
      process.exitCode = exitCode;
    },
  );
}
