// The one set of esbuild options for every function: CDK's NodejsFunction and the benchmark both use it,
// so the bundle the benchmark measures is the bundle that is deployed.

/** Modules left out of every bundle. `pg-native` is an optional native binding `pg` never needs here. */
export const EXTERNAL_MODULES: readonly string[] = ['pg-native'];

/** The Node.js version the functions run on (the newest Lambda runtime the pinned aws-cdk-lib knows). */
export const NODE_TARGET = 'node24';

export const BUNDLING = {
  minify: true,
  sourceMap: true,
  target: NODE_TARGET,
  externalModules: [...EXTERNAL_MODULES],
} as const;
