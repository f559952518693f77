// Each permanent misconfiguration the issue names, produced for real against a PostgreSQL with TLS on (a
// certificate from a CA made by test/support/tls-postgres.ts), and classified: permanent ones alarm, transient ones wait.
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LazyConnection } from '../../../lambdas/postgres/connection';
import { iamSource, type ConnectionSource } from '../../../lambdas/postgres/connection-source';
import { classifyFailure } from '../../../lambdas/postgres/error-codes';
import { verifiedTls } from '../../../lambdas/postgres/tls';
import { describeError } from '../../../lambdas/runtime/errors';
import { DatabaseUnavailableError, logLevelFor } from '../../../lambdas/postgres/errors';
import type { TestServer } from '../../support/postgres';
import { startTlsServer, type TlsTestServer } from '../../support/tls-postgres';

const SERVER_NAME = 'db.test.internal';
const PASSWORD = 'postgres';
// A role that the server's pg_hba.conf trusts without a password, so that its absence is what is reported.
const GHOST_ROLE = 'ghost_writer';

let tls: TlsTestServer;
let server: TestServer;
let testCa: string;
const connections: LazyConnection[] = [];

beforeAll(async () => {
  tls = await startTlsServer(SERVER_NAME, [`host all ${GHOST_ROLE} 127.0.0.1/32 trust`]);
  ({ server, ca: testCa } = tls);
  const admin = new Client({ connectionString: server.url() });
  await admin.connect();
  try {
    await admin.query("CREATE ROLE app_user LOGIN PASSWORD 'app_user'");
    await admin.query("CREATE ROLE no_login NOLOGIN PASSWORD 'no_login'");
    await admin.query('CREATE DATABASE locked');
    await admin.query('REVOKE CONNECT ON DATABASE locked FROM PUBLIC');
    await admin.query('CREATE TABLE private_table (id int)');
    await admin.query('REVOKE ALL ON private_table FROM PUBLIC');
  } finally {
    await admin.end();
  }
}, 120_000);

afterAll(async () => {
  await tls?.destroy();
});

afterEach(async () => {
  await Promise.all(connections.splice(0).map((connection) => connection.close()));
});

interface Target {
  readonly user?: string;
  readonly password?: string;
  readonly database?: string;
  /** The name the certificate is checked against. @default SERVER_NAME */
  readonly servername?: string;
  /** @default the test CA */
  readonly ca?: readonly string[];
}

/** IAM-shaped settings (host, user, a password function, verified TLS) against the local TLS server. */
function source(target: Target = {}): ConnectionSource {
  const servername = target.servername ?? SERVER_NAME;
  return iamSource({
    host: '127.0.0.1',
    port: server.port,
    database: target.database ?? 'postgres',
    user: target.user ?? 'postgres',
    token: () => Promise.resolve(target.password ?? PASSWORD),
    tls: verifiedTls(servername, { ca: target.ca ?? [testCa] }),
  });
}

async function failure(target: Target, text = 'SELECT 1'): Promise<unknown> {
  const connection = new LazyConnection(source(target), { timeouts: { connectMs: 5000 } });
  connections.push(connection);
  return connection.query(text).then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('a permanent misconfiguration', () => {
  it('connects when the certificate is signed by a trusted CA and names the host (the control case)', async () => {
    const connection = new LazyConnection(source(), { timeouts: { connectMs: 5000 } });
    connections.push(connection);
    const { rows } = await connection.query<{ ssl: boolean }>(
      'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    expect(rows[0]?.ssl).toBe(true);
  });

  it('classifies a certificate signed by a CA other than the RDS ones as tls-untrusted', async () => {
    const error = await failure({ ca: verifiedTls(SERVER_NAME, { region: 'eu-west-1' }).ca });
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error).toMatchObject({
      failureClass: 'permanent',
      errorClass: 'tls-untrusted',
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
  });

  it('classifies a certificate for another host name as tls-host-name', async () => {
    const error = await failure({ servername: 'other.test.internal' });
    expect(error).toMatchObject({
      failureClass: 'permanent',
      errorClass: 'tls-host-name',
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });

  it('classifies a wrong password as login-refused', async () => {
    const error = await failure({ user: 'app_user', password: 'wrong' });
    expect(error).toMatchObject({ failureClass: 'permanent', errorClass: 'login-refused', code: '28P01' });
  });

  it('classifies a role without LOGIN as login-refused', async () => {
    const error = await failure({ user: 'no_login', password: 'no_login' });
    expect(error).toMatchObject({ failureClass: 'permanent', errorClass: 'login-refused', code: '28000' });
  });

  it('classifies a role that does not exist as role-missing, by its code and never its text', async () => {
    const error = await failure({ user: GHOST_ROLE });
    expect(error).toMatchObject({ failureClass: 'permanent', errorClass: 'role-missing', code: '28000' });
    expect(JSON.stringify(describeError(error))).not.toContain(GHOST_ROLE);
  });

  it('classifies a database the role may not connect to as privilege-missing (42501)', async () => {
    const error = await failure({ user: 'app_user', password: 'app_user', database: 'locked' });
    expect(error).toMatchObject({ failureClass: 'permanent', errorClass: 'privilege-missing', code: '42501' });
  });

  it('classifies a statement the role lacks the grant for as privilege-missing, so the write is queued', async () => {
    const error = await failure({ user: 'app_user', password: 'app_user' }, 'SELECT * FROM private_table');
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error).toMatchObject({ failureClass: 'permanent', errorClass: 'privilege-missing', code: '42501' });
  });

  it('classifies a database that does not exist as database-missing', async () => {
    const error = await failure({ database: 'no_such_database' });
    expect(error).toMatchObject({ failureClass: 'permanent', errorClass: 'database-missing', code: '3D000' });
  });

  it('logs a permanent failure at ERROR with the fields the metric filter matches', async () => {
    const error = await failure({ user: 'app_user', password: 'wrong' });
    expect(logLevelFor(error)).toBe('error');
    expect(describeError(error)).toMatchObject({
      failureClass: 'permanent',
      errorClass: 'login-refused',
      errorName: 'DatabaseUnavailableError',
    });
  });
});

describe('classifyFailure', () => {
  const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });

  it.each([
    ['CERT_HAS_EXPIRED', 'tls-expired'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'tls-untrusted'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'tls-untrusted'],
    ['ENOTFOUND', 'host-not-found'],
    ['42883', 'schema-missing'],
  ])('classifies %s as permanent %s', (code, errorClass) => {
    expect(classifyFailure(coded(code))).toEqual({ failureClass: 'permanent', errorClass });
  });

  it.each([
    ['ECONNREFUSED', 'refused'],
    ['53300', 'too-many-connections'],
    ['57P01', 'server-restarting'],
    ['57P03', 'server-restarting'],
    ['EAI_AGAIN', 'network'],
    ['08006', 'network'],
    ['57014', 'timeout'],
  ])('classifies %s as transient %s', (code, errorClass) => {
    expect(classifyFailure(coded(code))).toEqual({ failureClass: 'transient', errorClass });
  });

  it('classifies missing AWS credentials as permanent no-credentials', () => {
    const error = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    });
    expect(classifyFailure(error)).toEqual({ failureClass: 'permanent', errorClass: 'no-credentials' });
  });

  it('leaves a statement error that says nothing about the connection unclassified', () => {
    expect(classifyFailure(coded('23514'))).toBeUndefined();
    expect(classifyFailure('not an error')).toBeUndefined();
  });

  it('logs a transient failure at WARN and anything else that was queued at WARN too', () => {
    expect(
      logLevelFor(
        new DatabaseUnavailableError('down', 'ECONNREFUSED', { failureClass: 'transient', errorClass: 'refused' }),
      ),
    ).toBe('warn');
    expect(logLevelFor(new Error('x'))).toBe('warn');
  });
});
