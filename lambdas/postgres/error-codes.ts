// What a failed pg call means, read from the error's `code`: a SQLSTATE from the server, or a Node errno name
// when the socket itself failed.

/** The `code` a pg, system or SDK error carries, when it is a string. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** SQLSTATEs the code acts on by name. */
export const SQLSTATE = {
  UNIQUE_VIOLATION: '23505',
  INVALID_AUTHORIZATION: '28000',
  INVALID_PASSWORD: '28P01',
  INVALID_CATALOG_NAME: '3D000',
  UNDEFINED_TABLE: '42P01',
  OBJECT_IN_USE: '55006',
} as const;

// SQLSTATE classes and errno codes that mean the connection itself is gone, not that the statement failed:
// server stopped (ECONNREFUSED, 57P01-57P03), network gone (EHOSTUNREACH, ENETUNREACH, transient DNS EAI_AGAIN),
// connection reset or closed mid-statement (ECONNRESET, EPIPE).
const BROKEN_CONNECTION_CODES = new Set([
  '57P01',
  '57P02',
  '57P03',
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
const OVERLOADED_CODES = new Set(['53300']);

export function isOverloaded(error: unknown): boolean {
  const code = errorCode(error);
  return error instanceof Error && code !== undefined && OVERLOADED_CODES.has(code);
}
