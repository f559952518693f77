#!/usr/bin/env -S npx tsx
// `npm run invoke -- events/<file>.json`: runs the post-confirmation handler once on an event file, against
// CONNECTION_URL when set, else the database of the running local stack (`npm start`), and prints the result.
import { readFile } from 'node:fs/promises';
import { createHandler } from '../lambdas/post-confirmation/handler';
import { errorCode } from '../lambdas/postgres/error-codes';
import { localContext } from '../local/invoke-server';
import { dataDirFrom, FUNCTION_NAME, readStackInfo, stackFilePath } from '../local/stack-info';
import {
  CliError,
  describeFailure,
  EXIT,
  parseCommandLine,
  processOutput,
  runMain,
  type Output,
  helpExit,
} from './cli/common';

const USAGE = 'usage: npm run invoke -- events/<file>.json';
const OPTIONS = { help: { type: 'boolean', short: 'h', default: false } } as const;

/** CONNECTION_URL wins; otherwise the embedded database that `npm start` recorded in stack.json. */
export async function connectionUrlFor(env: NodeJS.ProcessEnv): Promise<{ url: string; source: string }> {
  if (env.CONNECTION_URL) return { url: env.CONNECTION_URL, source: 'CONNECTION_URL' };
  const dir = dataDirFrom(env);
  const stack = await readStackInfo(dir);
  if (stack) return { url: stack.connectionUrl, source: stackFilePath(dir) };
  throw new CliError(
    `no database: run npm start first or set CONNECTION_URL (looked for ${stackFilePath(dir)})`,
    EXIT.CONFIG,
  );
}

async function readEvent(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = errorCode(error);
    throw new CliError(`cannot read ${path}${code ? ` (${code})` : ''}`, EXIT.USAGE);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`${path} is not valid JSON`, EXIT.USAGE);
  }
}

async function invoke(event: unknown, url: string, fromStack: boolean, output: Output): Promise<number> {
  const handler = createHandler({ database: { connectionUrl: url } });
  try {
    const result = await handler(event, localContext(FUNCTION_NAME, 'us-east-1', 6000));
    output.out(JSON.stringify(result, null, 2));
    return EXIT.OK;
  } catch (error) {
    // What the function threw, as Lambda would report it: its name and message.
    output.err(error instanceof Error ? `${error.name}: ${error.message}` : `error: ${String(error)}`);
    if (error instanceof Error && error.name === 'DatabaseUnavailableError' && fromStack) {
      output.err('is the local stack running? start it with npm start');
    }
    return EXIT.FAILURE;
  } finally {
    // The handler keeps its connection for the next invocation, as in Lambda; there is none here.
    await handler.close();
  }
}

export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  output: Output = processOutput,
): Promise<number> {
  try {
    const { values, positionals } = parseCommandLine(argv, OPTIONS, USAGE);
    const help = helpExit(values, USAGE, output);
    if (help !== undefined) return help;
    const [path, ...rest] = positionals;
    if (!path || rest.length > 0) throw new CliError(USAGE, EXIT.USAGE);
    const event = await readEvent(path);
    const { url, source } = await connectionUrlFor(env);
    output.err(`invoking ${FUNCTION_NAME} with ${path} (database from ${source})`);
    return await invoke(event, url, source !== 'CONNECTION_URL', output);
  } catch (error) {
    const { message, exitCode } = describeFailure(error);
    output.err(`invoke: ${message}`);
    return exitCode;
  }
}

if (require.main === module) runMain('invoke', () => main(process.argv.slice(2)));
