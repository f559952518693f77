// Where a function's database credentials come from: a URL (local stack, tests, `sam local invoke`) or IAM
// database authentication over verified TLS (AWS). Read and checked once, on cold start, by the settings parsers.
import type { ClientConfig } from 'pg';
import { type Env, checkUrl, optional, required, tcpPort } from '../runtime/env';
import { ConfigurationError } from '../runtime/errors';
import { checkRegion } from './rds-ca';
import { authTokenGenerator } from './rds-token';
import { verifiedTls, type VerifiedTls } from './tls';

/** Produces the connection settings for a new connection (a fresh IAM token each time, where used). */
export type ConnectionSource = () => ClientConfig;

export interface IamDatabaseSettings {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  /** Region of the instance, which signs the token and picks the RDS CAs to trust. */
  readonly region: string;
  /** The host is an RDS Proxy endpoint, whose certificate chains to the Amazon Trust Services roots. @default false */
  readonly proxy?: boolean;
}

/** How a function reaches its database: no password is ever part of the IAM form. */
export type DatabaseSettings = { readonly connectionUrl: string } | { readonly iam: IamDatabaseSettings };

/** Settings from a URL (`postgres://user:password@host:port/db?sslmode=...`): local development and tests. */
export function urlSource(connectionString: string): ConnectionSource {
  checkUrl('CONNECTION_URL', connectionString);
  return () => ({ connectionString });
}

export interface IamSourceSettings {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  /** Returns a short-lived IAM authentication token, used as the password. */
  readonly token: () => Promise<string>;
  /**
   * What the server's certificate is verified against, or how to get it: a function is called once, at the
   * first connection, so a cold start that never connects reads no certificate.
   * @default verifiedTls(host): every region's RDS roots
   */
  readonly tls?: VerifiedTls | (() => VerifiedTls);
}

/** Settings for IAM database authentication over verified TLS: the password is a token minted per connection. */
export function iamSource(settings: IamSourceSettings): ConnectionSource {
  // Chosen once per container, at its first connection: the CA list is the same for every connection.
  let ssl: VerifiedTls | undefined = typeof settings.tls === 'function' ? undefined : settings.tls;
  const tls = settings.tls;
  return () => {
    ssl ??= typeof tls === 'function' ? tls() : verifiedTls(settings.host);
    return {
      host: settings.host,
      port: settings.port,
      database: settings.database,
      user: settings.user,
      password: settings.token,
      ssl,
    };
  };
}

export function connectionSourceFor(settings: DatabaseSettings): ConnectionSource {
  if ('connectionUrl' in settings) return urlSource(settings.connectionUrl);
  const { host, port, database, user, region, proxy } = settings.iam;
  // A region no CA file can exist for is refused on cold start; the region's file is read at the first connection.
  checkRegion(region);
  // The token is signed with the function's role credentials (rds-token.ts).
  return iamSource({
    host,
    port,
    database,
    user,
    token: authTokenGenerator({ hostname: host, port, username: user, region }),
    tls: () => verifiedTls(host, { region, proxy: proxy === true }),
  });
}

/**
 * `CONNECTION_URL` wins when set (an empty one, as the deployed template declares it, counts as unset).
 * Otherwise IAM database authentication: `DB_HOST`, `DB_PORT`, `DB_NAME`, `DB_USER` and the region come
 * from the deployment, and `DB_ENDPOINT_KIND` (`instance`, the default, or `proxy`) says which CAs sign the
 * host's certificate. No password is ever read from the environment in AWS.
 */
export function databaseSettingsFromEnv(env: Env): DatabaseSettings {
  const url = optional(env, 'CONNECTION_URL');
  if (url !== undefined) return { connectionUrl: checkUrl('CONNECTION_URL', url) };
  if (env.DB_HOST === undefined) {
    throw new ConfigurationError('CONNECTION_URL', 'is not set (and DB_HOST is not set for IAM authentication)');
  }
  return {
    iam: {
      host: required(env, 'DB_HOST'),
      port: tcpPort(env, 'DB_PORT', 5432),
      database: required(env, 'DB_NAME'),
      user: required(env, 'DB_USER'),
      region: optional(env, 'AWS_REGION') ?? required(env, 'AWS_DEFAULT_REGION'),
      proxy: endpointKind(env) === 'proxy',
    },
  };
}

function endpointKind(env: Env): 'instance' | 'proxy' {
  const kind = optional(env, 'DB_ENDPOINT_KIND') ?? 'instance';
  if (kind !== 'instance' && kind !== 'proxy')
    throw new ConfigurationError('DB_ENDPOINT_KIND', 'must be instance or proxy');
  return kind;
}
