// The operator commands' way to the local stack: when CONNECTION_URL is not set, the database (and the user
// pool) `npm start` describes in `<data dir>/stack.json` (LOCAL_DATA_DIR, else `.local`), the way `invoke`
// and `smoke --local` find it. The local endpoint alone gets placeholder credentials: cognito-local accepts
// any, and nothing else may be sent such keys.
import { relative } from 'node:path';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { optional } from '../../lambdas/runtime/env';
import { dataDirFrom, readStackInfo, stackFilePath, type StackInfo } from '../../local/stack-info';
import { CliError, EXIT, parseConnectionUrl, type ConnectionUrl } from './common';

export interface LocalStackFound {
  readonly info: StackInfo;
  /** stack.json, relative to the working directory when inside it. */
  readonly file: string;
}

function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

/** The stack.json of a local stack, or undefined when there is none in LOCAL_DATA_DIR / `.local`. */
export async function findLocalStack(env: NodeJS.ProcessEnv): Promise<LocalStackFound | undefined> {
  const dir = dataDirFrom(env);
  const info = await readStackInfo(dir);
  return info === undefined ? undefined : { info, file: shown(stackFilePath(dir)) };
}

/** The local stack's database URL, parsed and checked like CONNECTION_URL. */
export function localConnection(found: LocalStackFound): ConnectionUrl {
  return parseConnectionUrl(`connectionUrl in ${found.file}`, found.info.connectionUrl);
}

/**
 * CONNECTION_URL when set (an empty one counts as unset); otherwise the running local stack's database; else
 * an error naming both ways. `prod` never falls back: PROD_CONNECTION_URL must be said.
 */
export async function connectionOrLocalStack(
  env: NodeJS.ProcessEnv,
): Promise<{ readonly connection: ConnectionUrl; readonly local?: LocalStackFound }> {
  const url = optional(env, 'CONNECTION_URL');
  if (url !== undefined) return { connection: parseConnectionUrl('CONNECTION_URL', url) };
  const local = await findLocalStack(env);
  if (local === undefined) {
    throw new CliError(
      `CONNECTION_URL is not set and no local stack was found (no ${shown(stackFilePath(dataDirFrom(env)))}): ` +
        'start one with npm start, or set CONNECTION_URL',
      EXIT.CONFIG,
    );
  }
  return { connection: localConnection(local), local };
}

/** A Cognito client for cognito-local's endpoint, with the placeholder keys it accepts (and no others). */
export function localCognito(found: LocalStackFound): CognitoIdentityProviderClient {
  return new CognitoIdentityProviderClient({
    endpoint: found.info.cognitoEndpoint,
    region: found.info.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}
