// Which database an operator command talks to, and how: a URL from the environment (local, and the existing
// PROD_CONNECTION_URL), or a deployed stage, found from its stack outputs, reached with an IAM token for a
// named database user (or the master secret where only the owner will do), over TLS verified against the RDS
// CAs. Opening a connection lives here too: short connect timeout, one clear line on failure.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type ClientConfig } from 'pg';
import { errorCode, SQLSTATE } from '../../lambdas/postgres/error-codes';
import { rdsCaBundle, rdsCertificateAuthorities } from '../../lambdas/postgres/rds-ca';
import { verifiedTls } from '../../lambdas/postgres/tls';
import { CliError, EXIT, withDatabase, type ConnectionUrl } from './common';

/** A database an operator command acts on. Its label is safe to print; its credentials never are. */
export interface DatabaseTarget {
  /** `user@host:port/database`, or the redacted URL: never a password. */
  readonly label: string;
  readonly database: string;
  /** Production: unverified TLS is refused, destructive commands need --yes. */
  readonly prod: boolean;
  /** Found through the local stack's stack.json (CONNECTION_URL unset): said once on stderr. @default false */
  readonly local?: boolean;
  /** Connection settings for pg, for `database` on the same server. @default its own database */
  clientConfig(database?: string): Promise<ClientConfig>;
  /** The libpq environment psql gets (PG* variables, files it reads), and how to remove those files after. */
  psql(env: NodeJS.ProcessEnv): Promise<PsqlSession>;
}

export interface PsqlSession {
  readonly env: NodeJS.ProcessEnv;
  readonly cleanup: () => Promise<void>;
}

// sslmodes (and pg's URL switches) that connect without checking who answers: never to production.
const UNVERIFIED_SSLMODES = new Set(['disable', 'allow', 'prefer', 'no-verify']);
const VERIFYING_SSLMODES = new Set(['require', 'verify-ca', 'verify-full']);
const TLS_PARAMETERS = ['sslmode', 'ssl', 'sslrootcert', 'sslcert', 'sslkey', 'uselibpqcompat', 'rejectUnauthorized'];

/** Refuses a production URL whose TLS would not verify the server, naming the parameter. */
export function checkProductionTls(connection: ConnectionUrl, variable: string): void {
  const params = connection.parsed.searchParams;
  const sslmode = params.get('sslmode');
  const ssl = params.get('ssl');
  const offending =
    sslmode !== null && UNVERIFIED_SSLMODES.has(sslmode)
      ? `sslmode=${sslmode}`
      : ssl === 'false' || ssl === '0'
        ? `ssl=${ssl}`
        : [...params.keys()].some((key) => key.toLowerCase() === 'rejectunauthorized')
          ? 'rejectUnauthorized'
          : undefined;
  if (offending !== undefined) {
    throw new CliError(
      `${variable} asks for ${offending}: production is reached only with the certificate verified; use sslmode=verify-full (the RDS CAs are supplied)`,
      EXIT.REFUSED,
    );
  }
}

async function privateDir(): Promise<string> {
  // mkdtemp makes the directory 0700; the files in it are written 0600 as well.
  return mkdtemp(join(tmpdir(), 'cruddur-ops-'));
}

async function writePrivate(dir: string, name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text, { mode: 0o600 });
  return path;
}

/** A libpq password file line that matches any host, port, database and user: `:` and `\` escaped. */
function passfileLine(password: string): string {
  return `*:*:*:*:${password.replace(/[\\:]/g, (c) => `\\${c}`)}\n`;
}

function withoutSecrets(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const child: NodeJS.ProcessEnv = { ...env };
  // psql needs none of these, and they carry passwords.
  for (const name of [
    'CONNECTION_URL',
    'PROD_CONNECTION_URL',
    'PGPASSWORD',
    'PGPASSFILE',
    'PGSSLROOTCERT',
    'PGHOSTADDR',
  ])
    delete child[name];
  return child;
}

/** The environment psql gets from a URL: its parts as libpq PG* variables, so no password appears in argv. */
export function psqlEnvironment(connection: ConnectionUrl, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const url = connection.parsed;
  const child = withoutSecrets(env);
  child.PGHOST = url.hostname.replace(/^\[(.*)\]$/, '$1');
  child.PGPORT = url.port || '5432';
  child.PGDATABASE = connection.database;
  if (url.username) child.PGUSER = decodeURIComponent(url.username);
  if (url.password) child.PGPASSWORD = decodeURIComponent(url.password);
  child.PGAPPNAME = 'cruddur-ops psql';
  const libpq: Record<string, string> = {
    sslmode: 'PGSSLMODE',
    sslrootcert: 'PGSSLROOTCERT',
    sslcert: 'PGSSLCERT',
    sslkey: 'PGSSLKEY',
    connect_timeout: 'PGCONNECT_TIMEOUT',
    application_name: 'PGAPPNAME',
    options: 'PGOPTIONS',
  };
  for (const [parameter, variable] of Object.entries(libpq)) {
    const value = url.searchParams.get(parameter);
    if (value !== null) child[variable] = value;
  }
  return child;
}

/**
 * A URL from CONNECTION_URL / PROD_CONNECTION_URL. When it asks for TLS that verifies (`require`, `verify-ca`,
 * `verify-full`), pg and psql both get verify-full against its `sslrootcert`, or the RDS CAs when it names none:
 * Node's default store and psql's `require` would check nothing useful.
 */
export function urlTarget(
  connection: ConnectionUrl,
  options: { readonly prod: boolean; readonly variable: string },
): DatabaseTarget {
  if (options.prod) checkProductionTls(connection, options.variable);
  const sslmode = connection.parsed.searchParams.get('sslmode');
  const verifying = sslmode !== null && VERIFYING_SSLMODES.has(sslmode);
  const rootCert = connection.parsed.searchParams.get('sslrootcert');
  return {
    label: connection.redacted,
    database: connection.database,
    prod: options.prod,
    clientConfig: async (database = connection.database) => {
      const url = withDatabase(connection, database);
      if (!verifying) return { connectionString: url };
      const stripped = new URL(url);
      for (const name of TLS_PARAMETERS) stripped.searchParams.delete(name);
      const host = connection.parsed.hostname.replace(/^\[(.*)\]$/, '$1');
      const ca = rootCert === null ? rdsCertificateAuthorities() : [await readFile(rootCert, 'utf8')];
      return { connectionString: stripped.toString(), ssl: verifiedTls(host, { ca }) };
    },
    psql: async (env) => {
      const child = psqlEnvironment(connection, env);
      if (!verifying) return { env: child, cleanup: () => Promise.resolve() };
      child.PGSSLMODE = 'verify-full';
      if (rootCert !== null) return { env: child, cleanup: () => Promise.resolve() };
      const dir = await privateDir();
      child.PGSSLROOTCERT = await writePrivate(dir, 'rds-ca.pem', rdsCaBundle());
      return { env: child, cleanup: () => rm(dir, { recursive: true, force: true }) };
    },
  };
}

/** How a stage target logs in: an IAM token for a named user, or the master secret's owner. */
export type StageCredentials =
  | { readonly kind: 'iam'; readonly user: string; readonly token: () => Promise<string> }
  | { readonly kind: 'master'; readonly read: () => Promise<{ readonly username: string; readonly password: string }> };

export interface StageTargetSettings {
  readonly stage: string;
  /** The instance's DNS name (stack output DatabaseEndpoint): what the certificate names and the token signs. */
  readonly endpoint: string;
  readonly database: string;
  readonly region: string;
  readonly credentials: StageCredentials;
  /** Where to connect instead, a tunnel's local end: an IP address, so that the name checked stays the endpoint's. */
  readonly host?: string;
  /** @default 5432 */
  readonly port?: number;
  /** The authorities to verify against. @default the region's RDS CAs */
  readonly ca?: readonly string[];
}

/** A deployed stage's database, verify-full against the endpoint's name, whichever address the bytes go to. */
export function stageTarget(settings: StageTargetSettings): DatabaseTarget {
  if (settings.host !== undefined && isIP(settings.host) === 0) {
    throw new CliError(
      `--host must be an IP address (a tunnel's local end, such as 127.0.0.1), got ${JSON.stringify(settings.host.slice(0, 40))}: the certificate is checked against ${settings.endpoint}`,
      EXIT.USAGE,
    );
  }
  const port = settings.port ?? 5432;
  const ca = settings.ca ?? rdsCertificateAuthorities({ region: settings.region });
  const login = async () => {
    const { credentials } = settings;
    if (credentials.kind === 'iam') return { user: credentials.user, password: await credentials.token() };
    const { username, password } = await credentials.read();
    return { user: username, password };
  };
  const user = settings.credentials.kind === 'iam' ? settings.credentials.user : 'the master user';
  return {
    label: `${user}@${settings.endpoint}:${port}/${settings.database}${settings.host ? ` via ${settings.host}` : ''} (stage ${settings.stage})`,
    database: settings.database,
    prod: settings.stage === 'prod',
    clientConfig: async (database = settings.database) => {
      const { user: name, password } = await login();
      // host is an IP, so pg leaves `servername` (what the certificate must name) as the endpoint.
      return {
        host: settings.host ?? settings.endpoint,
        port,
        database,
        user: name,
        password,
        ssl: verifiedTls(settings.endpoint, { ca }),
      };
    },
    psql: async (env) => {
      const { user: name, password } = await login();
      const dir = await privateDir();
      const child = withoutSecrets(env);
      child.PGHOST = settings.endpoint;
      if (settings.host !== undefined) child.PGHOSTADDR = settings.host;
      child.PGPORT = String(port);
      child.PGDATABASE = settings.database;
      child.PGUSER = name;
      child.PGAPPNAME = 'cruddur-ops psql';
      child.PGSSLMODE = 'verify-full';
      child.PGSSLROOTCERT = await writePrivate(dir, 'rds-ca.pem', ca.map((pem) => pem.trim()).join('\n') + '\n');
      // The password (a token or the master's) goes in a 0600 file psql reads, never in its argv or environment.
      child.PGPASSFILE = await writePrivate(dir, `pgpass-${randomBytes(4).toString('hex')}`, passfileLine(password));
      return { env: child, cleanup: () => rm(dir, { recursive: true, force: true }) };
    },
  };
}

export interface OpenOptions {
  readonly database?: string;
  readonly connectTimeoutMs: number;
  /** Server-side limit for each statement. @default none */
  readonly statementTimeoutMs?: number;
}

/**
 * A connected client, or a CliError that names the target (never its password) and why it failed. A bare
 * ConnectionUrl (the local stack's, `users`') is taken as a non-production URL target.
 */
export async function openClient(given: DatabaseTarget | ConnectionUrl, options: OpenOptions): Promise<Client> {
  const target = 'clientConfig' in given ? given : urlTarget(given, { prod: false, variable: 'the connection URL' });
  const database = options.database ?? target.database;
  const client = new Client({
    ...(await target.clientConfig(database)),
    connectionTimeoutMillis: options.connectTimeoutMs,
    application_name: 'cruddur-ops',
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
  });
  // A server that goes away mid-command emits 'error'; the pending query rejects with it, so just don't crash.
  client.on('error', () => undefined);
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    const code = errorCode(error);
    if (code === SQLSTATE.INVALID_CATALOG_NAME) {
      throw new CliError(
        `database "${database}" does not exist on ${target.label}; run \`npm run db -- create\` first`,
        EXIT.FAILURE,
      );
    }
    if (code === SQLSTATE.INVALID_PASSWORD || code === SQLSTATE.INVALID_AUTHORIZATION) {
      throw new CliError(`the server at ${target.label} refused the credentials (${code})`, EXIT.CONFIG);
    }
    if (code !== undefined && /CERT|TLS|SIGNATURE/.test(code)) {
      throw new CliError(`the certificate of ${target.label} did not verify (${code}); nothing was sent`, EXIT.CONFIG);
    }
    const reason = code ?? (error instanceof Error ? error.message : String(error));
    const hint = target.local === true ? '; is npm start running?' : '';
    throw new CliError(
      `cannot reach ${target.label} (${reason}; connect timeout ${options.connectTimeoutMs} ms)${hint}`,
      EXIT.UNAVAILABLE,
    );
  }
}
