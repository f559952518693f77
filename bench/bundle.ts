// Builds a function exactly as CDK's NodejsFunction does from lib/bundling.ts, and measures the artifact.
import { readFile, readdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type BuildOptions } from 'esbuild';
import { BUNDLING, RDS_CA_DIR, RDS_CA_GENERATOR } from '../lib/bundling';

/**
 * The esbuild options NodejsFunction derives from BUNDLING (aws-lambda-nodejs/lib/bundling.ts): CommonJS for
 * Node, bundled, `sourcemap` as a linked external file, the same target, main fields and externals.
 */
export function esbuildOptions(entry: string, outfile: string): BuildOptions {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: BUNDLING.target,
    minify: BUNDLING.minify,
    sourcemap: BUNDLING.sourceMap,
    mainFields: [...BUNDLING.mainFields],
    external: [...BUNDLING.externalModules],
    logLevel: 'silent',
  };
}

export interface BundleSizes {
  readonly file: string;
  /** The .js a cold start compiles. */
  readonly minifiedBytes: number;
  readonly gzipBytes: number;
  readonly sourceMapBytes: number;
  /** The RDS CA files beside it, all regions (`rds-ca/`), and the one a function in `region` reads. */
  readonly caDataBytes: number;
  readonly caRegionBytes: number;
}

/** The region whose CA file the benchmark's figures count (any region's file is about the same size). */
export const BENCH_REGION = 'eu-west-1';

/** Writes the RDS CA files beside a bundle, as the afterBundling hook of ProjectFunction does. */
export function writeCaData(outDir: string): void {
  const root = join(__dirname, '..');
  const generator = createRequire(__filename)(
    join(root, RDS_CA_GENERATOR),
  ) as typeof import('../lambdas/postgres/rds-ca-data.cjs');
  generator.writeRdsCaFiles(join(outDir, RDS_CA_DIR));
}

export async function buildFunction(entry: string, outDir: string): Promise<BundleSizes> {
  const file = join(outDir, 'index.js');
  await build(esbuildOptions(entry, file));
  writeCaData(outDir);
  const code = await readFile(file);
  const map = await readFile(`${file}.map`);
  const caDir = join(outDir, RDS_CA_DIR);
  const caSizes = await Promise.all((await readdir(caDir)).map(async (name) => (await stat(join(caDir, name))).size));
  return {
    file,
    minifiedBytes: code.byteLength,
    gzipBytes: gzipSync(code, { level: 9 }).byteLength,
    sourceMapBytes: map.byteLength,
    caDataBytes: caSizes.reduce((a, b) => a + b, 0),
    caRegionBytes: (await stat(join(caDir, `${BENCH_REGION}.pem`))).size,
  };
}
