// Where the post-confirmation function's database credentials come from, read once on cold start.
import { ConfigurationError } from './errors';
import { iamSource, urlSource, type ConnectionSource } from './db';
import { authTokenGenerator } from './rds-token';

type Env = Readonly<Record<string, string | undefined>>;

function required(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') throw new ConfigurationError(name, 'is not set');
  return value;
}

/**
 * `CONNECTION_URL` (local development, tests, `sam local invoke`) wins when set. Otherwise IAM database
 * authentication: `DB_HOST`, `DB_PORT`, `DB_NAME`, `DB_USER` and the region come from the deployment,
 * the token is signed with the function's role credentials (rds-token.ts). No password is ever read from the
 * environment in AWS.
 */
export function connectionSourceFromEnv(env: Env = process.env): ConnectionSource {
  const url = env.CONNECTION_URL;
  if (url !== undefined && url !== '') return urlSource(url);
  if (env.DB_HOST === undefined) {
    throw new ConfigurationError('CONNECTION_URL', 'is not set (and DB_HOST is not set for IAM authentication)');
  }
  const host = required(env, 'DB_HOST');
  const portText = env.DB_PORT ?? '5432';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigurationError('DB_PORT', 'is not a TCP port');
  const database = required(env, 'DB_NAME');
  const user = required(env, 'DB_USER');
  const region = env.AWS_REGION ?? required(env, 'AWS_DEFAULT_REGION');
  const token = authTokenGenerator({ hostname: host, port, username: user, region });
  return iamSource({ host, port, database, user, token });
}
