#!/usr/bin/env -S npx tsx
// `npm run invoke -- events/<file>.json`: runs the post-confirmation handler once on an event file, against
// CONNECTION_URL when set, else the database of the running local stack (`npm start`), and prints the result.
import { existsSync, readFileSync } from 'node:fs';
import { localContext } from '../local/invoke-server';
import { DEFAULT_DATA_DIR, FUNCTION_NAME, stackFilePath } from '../local/stack';

const USAGE = 'usage: npm run invoke -- events/<file>.json';

export class InvokeUsageError extends Error {
  override readonly name = 'InvokeUsageError';
}

/** CONNECTION_URL wins; otherwise the embedded database that `npm start` recorded in stack.json. */
export function connectionUrlFor(env: NodeJS.ProcessEnv): { url: string; source: string } {
  if (env.CONNECTION_URL) return { url: env.CONNECTION_URL, source: 'CONNECTION_URL' };
  const file = stackFilePath(env.LOCAL_DATA_DIR || DEFAULT_DATA_DIR);
  if (existsSync(file)) {
    const url = (JSON.parse(readFileSync(file, 'utf8')) as { connectionUrl?: unknown }).connectionUrl;
    if (typeof url === 'string' && url !== '') return { url, source: file };
  }
  throw new InvokeUsageError(`no database: run npm start first or set CONNECTION_URL (looked for ${file})`);
}

function readEvent(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new InvokeUsageError(`cannot read ${path}${typeof code === 'string' ? ` (${code})` : ''}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new InvokeUsageError(`${path} is not valid JSON`);
  }
}

export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  io: { out(text: string): void; err(text: string): void } = {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  },
): Promise<number> {
  const [path, ...rest] = argv;
  if (!path || rest.length > 0 || path.startsWith('-')) throw new InvokeUsageError(USAGE);
  const event = readEvent(path);
  const { url, source } = connectionUrlFor(env);
  // The handler reads CONNECTION_URL when its module loads, exactly as in Lambda.
  process.env.CONNECTION_URL = url;
  const { handler } = await import('../lambdas/post-confirmation/index');
  io.err(`invoking ${FUNCTION_NAME} with ${path} (database from ${source})`);
  try {
    const result = await handler(event, localContext(FUNCTION_NAME, 'us-east-1', 6000));
    io.out(JSON.stringify(result, null, 2));
    return 0;
  } catch (error) {
    io.err(error instanceof Error ? `${error.name}: ${error.message}` : `error: ${String(error)}`);
    if (error instanceof Error && error.name === 'DatabaseUnavailableError' && source !== 'CONNECTION_URL') {
      io.err('is the local stack running? start it with npm start');
    }
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    // The handler keeps its connection open for the next invocation, as in Lambda: exit explicitly.
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof InvokeUsageError ? error.message : `invoke: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
      process.exit(error instanceof InvokeUsageError ? 64 : 1);
    },
  );
}
