import type { ConnectionOptions } from 'node:tls';
import { rdsCertificateAuthorities, type RdsCaOptions } from './rds-ca';

export type VerifiedTls = ConnectionOptions & {
  readonly rejectUnauthorized: true;
  readonly servername: string;
  readonly ca: string[];
};

/**
 * TLS for every connection to RDS: the chain verified against the RDS CAs the code ships (rds-ca.ts), only
 * those (`ca` replaces Node's default store), and the certificate's name checked against `host`, which is
 * also the name to verify through a tunnel to 127.0.0.1. Never unverified.
 */
export function verifiedTls(
  host: string,
  options: RdsCaOptions & { readonly ca?: readonly string[] } = {},
): VerifiedTls {
  return { rejectUnauthorized: true, servername: host, ca: [...(options.ca ?? rdsCertificateAuthorities(options))] };
}
