import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Signer } from '@aws-sdk/rds-signer';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildFunction, esbuildOptions, writeCaData } from '../../bench/bundle';
import { BUNDLING, RDS_CA_DIR, rdsCaCommands } from '../../lib/bundling';
import { rdsCertificateAuthorities as fromSource, RdsCaDataMissingError } from '../../lambdas/postgres/rds-ca';

const ROOT = join(__dirname, '..', '..');

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cruddur-bundle-test-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('esbuildOptions', () => {
  it('passes every BUNDLING option on as NodejsFunction does', () => {
    const options = esbuildOptions('in.ts', 'out.js');
    expect(options).toMatchObject({
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: BUNDLING.target,
      minify: BUNDLING.minify,
      sourcemap: BUNDLING.sourceMap,
      mainFields: [...BUNDLING.mainFields],
      external: [...BUNDLING.externalModules],
    });
  });

  it('builds an IAM token signer that, bundled, still gives the same token as @aws-sdk/rds-signer', async () => {
    // The module-first main fields swap the SDK's CommonJS for its ES modules: check the result still signs.
    const entry = join(dir, 'entry.ts');
    const source = join(__dirname, '..', '..', 'lambdas', 'postgres', 'rds-token.ts').replace(/\\/g, '/');
    await writeFile(entry, `export { authTokenGenerator } from ${JSON.stringify(source)};\n`);
    const outfile = join(dir, 'signer.js');
    await build({ ...esbuildOptions(entry, outfile), absWorkingDir: join(__dirname, '..', '..') });
    const bundled = createRequire(__filename)(outfile) as typeof import('../../lambdas/postgres/rds-token');

    vi.useFakeTimers({ now: new Date('2026-11-23T12:34:56Z'), toFake: ['Date'] });
    try {
      const settings = {
        hostname: 'db.example.eu-west-1.rds.amazonaws.com',
        port: 5432,
        username: 'post_confirmation',
        region: 'eu-west-1',
        credentials: {
          accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
          secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
          sessionToken: 'tok',
        },
      };
      expect(await bundled.authTokenGenerator(settings)()).toBe(await new Signer(settings).getAuthToken());
    } finally {
      vi.useRealTimers();
    }
  });

  it('leaves @aws-sdk/client-sqs and pg-native to the runtime', () => {
    expect(BUNDLING.externalModules).toEqual(expect.arrayContaining(['pg-native', '@aws-sdk/client-sqs']));
  });
});

describe('the post-confirmation bundle as deployed', () => {
  it('keeps the .js at most 130 KB, with the RDS CAs in files beside it and none inside', async () => {
    const out = join(dir, 'post-confirmation');
    const sizes = await buildFunction(join(ROOT, 'lambdas', 'post-confirmation', 'index.ts'), out);
    expect(sizes.minifiedBytes).toBeLessThanOrEqual(130_000);
    expect(await readFile(sizes.file, 'utf8')).not.toContain('BEGIN CERTIFICATE');
    const files = await readdir(join(out, RDS_CA_DIR));
    expect(files).toEqual(expect.arrayContaining(['eu-west-1.pem', 'us-east-1.pem', 'proxy.pem']));
    expect(sizes.caRegionBytes).toBeLessThan(10_000);
    expect(sizes.caDataBytes).toBeGreaterThan(25 * sizes.caRegionBytes);
  });

  it("reads the region's CAs from the files beside it, and names the build fault when they are missing", async () => {
    const entry = join(dir, 'ca-entry.ts');
    const source = join(ROOT, 'lambdas', 'postgres', 'rds-ca.ts').replace(/\\/g, '/');
    await writeFile(entry, `export * from ${JSON.stringify(source)};\n`);
    type RdsCa = typeof import('../../lambdas/postgres/rds-ca');
    const load = async (name: string): Promise<RdsCa> => {
      const outfile = join(dir, name, 'index.js');
      await build({ ...esbuildOptions(entry, outfile), absWorkingDir: ROOT });
      return createRequire(__filename)(outfile) as RdsCa;
    };

    const bare = await load('without-ca');
    expect(() => bare.rdsCertificateAuthorities({ region: 'eu-west-1' })).toThrow(/missing beside the bundle/);
    expect(() => bare.rdsCertificateAuthorities({ region: 'eu-west-1' })).toThrow(bare.RdsCaDataMissingError);
    expect(RdsCaDataMissingError.name).toBe('RdsCaDataMissingError');

    const bundled = await load('with-ca');
    writeCaData(join(dir, 'with-ca'));
    expect(bundled.rdsCertificateAuthorities({ region: 'eu-west-1', proxy: true })).toEqual(
      fromSource({ region: 'eu-west-1', proxy: true }),
    );
    expect(bundled.rdsCertificateAuthorities({ region: 'eu-west-1' })).toHaveLength(3);
    expect(bundled.rdsCertificateAuthorities()).toEqual(fromSource());
    // A region without a file is refused by the cold start's check, before any certificate is read.
    expect(() => bundled.checkRegion('xx-nowhere-9')).toThrow(bundled.UnknownRegionCaError);
    expect(() => bundled.checkRegion('eu-west-1')).not.toThrow();
  });

  it('writes the same files with plain node, as the CDK bundling hook runs it', async () => {
    const out = join(dir, 'hook');
    const [command] = rdsCaCommands(ROOT, out);
    expect(command).toMatch(/^node "/);
    const [, script, target] = /^node "([^"]+)" "([^"]+)"$/.exec(command ?? '') ?? [];
    execFileSync(process.execPath, [script ?? '', target ?? '']);
    const inProcess = join(dir, 'in-process');
    writeCaData(inProcess);
    const names = (await readdir(join(out, RDS_CA_DIR))).sort();
    expect(names).toEqual((await readdir(join(inProcess, RDS_CA_DIR))).sort());
    expect(await readFile(join(out, RDS_CA_DIR, 'eu-west-1.pem'), 'utf8')).toBe(
      await readFile(join(inProcess, RDS_CA_DIR, 'eu-west-1.pem'), 'utf8'),
    );
  });
});
