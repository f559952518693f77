import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    // Files that touch SQL start their own PostgreSQL server in beforeAll: seconds on a busy machine.
    hookTimeout: 120_000,
    restoreMocks: true,
    unstubEnvs: true,
    // The AWS SDK's own switch for its Node.js 20 NodeVersionSupportWarning (bin/cli/common.ts says why).
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    // A temp directory of the run's own, empty again at the end, or the run fails naming what was left.
    globalSetup: ['test/support/temp-dir.global.ts'],
    // Each file's own temp directory inside it; the CDK apps it synthesizes are removed after it.
    setupFiles: ['test/support/temp-dir.setup.ts'],
  },
});
