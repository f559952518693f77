// What a failed pg call means, read from the error's `code`: a SQLSTATE from the server, or a Node errno name
// when the socket itself failed, or an OpenSSL verification code when TLS refused the server.
import { errorCode } from '../runtime/errors';

export { errorCode };

/** SQLSTATEs the code acts on by name. */
export const SQLSTATE = {
  UNIQUE_VIOLATION: '23505',
  INVALID_AUTHORIZATION: '28000',
  INVALID_PASSWORD: '28P01',
  INVALID_CATALOG_NAME: '3D000',
  INSUFFICIENT_PRIVILEGE: '42501',
  UNDEFINED_TABLE: '42P01',
  OBJECT_IN_USE: '55006',
  TOO_MANY_CONNECTIONS: '53300',
  // The sync functions' own (class SY, which PostgreSQL does not use), raised by sql/functions/sync.
  /** The database is kept in step with another user pool (sync.bind_pool); the message names both ids. */
  poolMismatch: 'SY001',
  /** A read_at more than 5 minutes ahead of the database clock: nothing written (per user in a batch). */
  readAtAhead: 'SY002',
} as const;

// SQLSTATE classes and errno codes that mean the connection itself is gone, not that the statement failed:
// server stopped (ECONNREFUSED, 57P01-57P03), network gone (EHOSTUNREACH, ENETUNREACH, transient DNS EAI_AGAIN),
// connection reset or closed mid-statement (ECONNRESET, EPIPE), or ended by the server's idle_session_timeout
// (57P05: a container frozen longer than the timeout reads that FATAL only when its next event arrives).
const BROKEN_CONNECTION_CODES = new Set([
  '57P01',
  '57P02',
  '57P03',
  '57P05',
  'ECONNRESET',
  'EPIPE',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = errorCode(error);
  if (code !== undefined && (code.startsWith('08') || BROKEN_CONNECTION_CODES.has(code))) return true;
  return /Connection terminated|not queryable|Query read timeout|timeout expired|Connection ended/i.test(error.message);
}

// A statement cancelled by statement_timeout or lock_timeout: the database is there but cannot answer in time.
const TIMEOUT_CODES = new Set(['57014', '55P03']);

export function isTimeoutError(error: unknown): boolean {
  const code = errorCode(error);
  return error instanceof Error && code !== undefined && TIMEOUT_CODES.has(code);
}

// A server with no connection slot left (too_many_connections) refuses before any statement runs.
const OVERLOADED_CODES = new Set([SQLSTATE.TOO_MANY_CONNECTIONS, '53400']);

export function isOverloaded(error: unknown): boolean {
  const code = errorCode(error);
  return error instanceof Error && code !== undefined && OVERLOADED_CODES.has(code);
}

/**
 * Transient: waiting helps (the server restarts, a slot frees up, the network comes back): queue and replay.
 * Permanent: the deploy is broken and no retry will fix it: still queue (nothing is lost) but tell someone now.
 */
export type FailureClass = 'transient' | 'permanent';

/**
 * The fixed vocabulary a log line and the metric filter see; never the server's or OpenSSL's message text.
 * Transient: `refused`, `timeout`, `too-many-connections`, `server-restarting`, `network`, `deadline`.
 * Permanent: `tls-untrusted`, `tls-expired`, `tls-host-name`, `tls-not-offered`, `login-refused`,
 * `role-missing`, `privilege-missing`, `database-missing`, `schema-missing`, `host-not-found`, `no-credentials`.
 */
export type ErrorClass =
  | 'refused'
  | 'timeout'
  | 'too-many-connections'
  | 'server-restarting'
  | 'network'
  | 'deadline'
  | 'tls-untrusted'
  | 'tls-expired'
  | 'tls-host-name'
  | 'tls-not-offered'
  | 'login-refused'
  | 'role-missing'
  | 'privilege-missing'
  | 'database-missing'
  | 'schema-missing'
  | 'host-not-found'
  | 'no-credentials';

export interface Classification {
  readonly failureClass: FailureClass;
  readonly errorClass: ErrorClass;
}

const PERMANENT_CODES: Readonly<Record<string, ErrorClass>> = {
  // OpenSSL's verdicts on the server's chain (Node puts them in `code`).
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'tls-untrusted',
  UNABLE_TO_GET_ISSUER_CERT: 'tls-untrusted',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'tls-untrusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'tls-untrusted',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'tls-untrusted',
  CERT_UNTRUSTED: 'tls-untrusted',
  CERT_SIGNATURE_FAILURE: 'tls-untrusted',
  CERT_REVOKED: 'tls-untrusted',
  CERT_HAS_EXPIRED: 'tls-expired',
  CERT_NOT_YET_VALID: 'tls-expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'tls-host-name',
  // 28000 is refined below: a missing role is reported with the same SQLSTATE as a refused login.
  [SQLSTATE.INVALID_PASSWORD]: 'login-refused',
  [SQLSTATE.INVALID_AUTHORIZATION]: 'login-refused',
  [SQLSTATE.INSUFFICIENT_PRIVILEGE]: 'privilege-missing',
  [SQLSTATE.INVALID_CATALOG_NAME]: 'database-missing',
  // The migrations have not run (or ran elsewhere): the functions' statements name objects that are not there.
  [SQLSTATE.UNDEFINED_TABLE]: 'schema-missing',
  '42883': 'schema-missing',
  '3F000': 'schema-missing',
  // NXDOMAIN: the name does not exist (a wrong DB_HOST), unlike EAI_AGAIN, a resolver that did not answer.
  ENOTFOUND: 'host-not-found',
};

const TRANSIENT_CODES: Readonly<Record<string, ErrorClass>> = {
  ECONNREFUSED: 'refused',
  ETIMEDOUT: 'timeout',
  '57014': 'timeout',
  '55P03': 'timeout',
  [SQLSTATE.TOO_MANY_CONNECTIONS]: 'too-many-connections',
  '53400': 'too-many-connections',
  '57P01': 'server-restarting',
  '57P02': 'server-restarting',
  '57P03': 'server-restarting',
  '57P05': 'network',
  ECONNRESET: 'network',
  EPIPE: 'network',
  EHOSTUNREACH: 'network',
  ENETUNREACH: 'network',
  EAI_AGAIN: 'network',
};

// The IAM token is minted as the connection opens; without credentials it cannot be, on any retry.
const NO_CREDENTIALS_NAMES = new Set(['CredentialsProviderError', 'CredentialsError']);

/**
 * Which class a failed connect or statement belongs to, or undefined for an error that says nothing about the
 * connection (a CHECK violation, a bug). The message is read only to tell a missing role from a refused login
 * (both 28000) and to recognise pg's own code-less errors; it never leaves this function.
 */
export function classifyFailure(error: unknown): Classification | undefined {
  if (!(error instanceof Error)) return undefined;
  if (NO_CREDENTIALS_NAMES.has(error.name)) return { failureClass: 'permanent', errorClass: 'no-credentials' };
  const code = errorCode(error);
  if (code !== undefined) {
    const permanent = PERMANENT_CODES[code];
    if (permanent !== undefined) {
      const refined =
        code === SQLSTATE.INVALID_AUTHORIZATION && /^role ".*" does not exist/.test(error.message)
          ? 'role-missing'
          : permanent;
      return { failureClass: 'permanent', errorClass: refined };
    }
    const transient = TRANSIENT_CODES[code];
    if (transient !== undefined) return { failureClass: 'transient', errorClass: transient };
    if (code.startsWith('08')) return { failureClass: 'transient', errorClass: 'network' };
  }
  if (/does not support SSL/i.test(error.message)) return { failureClass: 'permanent', errorClass: 'tls-not-offered' };
  if (/timeout|timed out/i.test(error.message)) return { failureClass: 'transient', errorClass: 'timeout' };
  if (isConnectionError(error)) return { failureClass: 'transient', errorClass: 'network' };
  return undefined;
}
