// The one set of esbuild options for every function: CDK's NodejsFunction and the benchmark both use it,
// so the bundle the benchmark measures is the bundle that is deployed.

/**
 * Modules left out of every bundle.
 * - `pg-native`: an optional native binding `pg` never needs here.
 * - `@aws-sdk/client-sqs`: only the failure path's fallback send uses it, through a lazy `import()`, so a
 *   normal invocation never loads it. Every Lambda Node.js runtime since 18 ships the SDK v3 clients
 *   (`@aws-sdk/client-*`), so it resolves there; bundling it would add ~300 KB to every cold start for a
 *   path that runs only when the database is down. The price: that path uses the runtime's SDK version.
 */
export const EXTERNAL_MODULES: readonly string[] = ['pg-native', '@aws-sdk/client-sqs'];

/** The Node.js version the functions run on (the newest Lambda runtime the pinned aws-cdk-lib knows). */
export const NODE_TARGET = 'node24';

/**
 * `module` before `main`: the AWS SDK and Smithy packages publish ES modules beside CommonJS, and only the
 * ES modules let esbuild drop what is not imported. With `main` first, the IAM token signer alone pulls in
 * ~140 KB of @smithy/core; with `module` first, ~15 KB.
 */
export const MAIN_FIELDS: readonly string[] = ['module', 'main'];

/**
 * The folder of RDS CA files beside a bundle (lambdas/postgres/rds-ca.ts reads it). The certificates of every
 * region are ~215 KB of PEM: inside the JavaScript they tripled the bundle that every cold start compiles;
 * beside it, a function reads one region's file (~5 KB) at its first connection.
 */
export const RDS_CA_DIR = 'rds-ca';

/** The generator, relative to the project root; plain node runs it (no tsx, and no Docker for the synth). */
export const RDS_CA_GENERATOR = 'lambdas/postgres/rds-ca-data.cjs';

/** The commands that write the CA files beside a bundle: part of every function that reaches a database. */
export function rdsCaCommands(inputDir: string, outputDir: string): string[] {
  return [`node "${inputDir}/${RDS_CA_GENERATOR}" "${outputDir}/${RDS_CA_DIR}"`];
}

export const BUNDLING = {
  minify: true,
  sourceMap: true,
  target: NODE_TARGET,
  mainFields: [...MAIN_FIELDS],
  externalModules: [...EXTERNAL_MODULES],
} as const;
