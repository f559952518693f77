// Builds a function exactly as CDK's NodejsFunction does from lib/bundling.ts, and measures the artifact.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type BuildOptions } from 'esbuild';
import { BUNDLING } from '../lib/bundling';

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
  readonly minifiedBytes: number;
  readonly gzipBytes: number;
  readonly sourceMapBytes: number;
}

export async function buildFunction(entry: string, outDir: string): Promise<BundleSizes> {
  const file = join(outDir, 'index.js');
  await build(esbuildOptions(entry, file));
  const code = await readFile(file);
  const map = await readFile(`${file}.map`);
  return {
    file,
    minifiedBytes: code.byteLength,
    gzipBytes: gzipSync(code, { level: 9 }).byteLength,
    sourceMapBytes: map.byteLength,
  };
}
