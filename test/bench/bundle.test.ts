import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Signer } from '@aws-sdk/rds-signer';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { esbuildOptions } from '../../bench/bundle';
import { BUNDLING } from '../../lib/bundling';

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
