import type { ConnectionOptions } from 'node:tls';

/**
 * TLS for every connection to RDS: the certificate verified against the CAs in NODE_EXTRA_CA_CERTS (the Lambda
 * runtime ships the RDS bundle) and the host name checked. Never unverified.
 */
export function verifiedTls(host: string): ConnectionOptions & { readonly rejectUnauthorized: true } {
  return { rejectUnauthorized: true, servername: host };
}
