import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import setup from './temp-dir.global';

const exitCode = process.exitCode;

afterEach(() => {
  process.exitCode = exitCode;
});

describe('the run-private temp directory', () => {
  it('fails the run, naming what a test left behind, and removes it all the same', () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockReturnValue(true);
    const outer = tmpdir();
    const teardown = setup();
    const root = tmpdir();
    expect(root).not.toBe(outer);
    mkdirSync(join(root, 'cdk.out123'));
    writeFileSync(join(root, 'left.txt'), 'x');
    mkdirSync(join(root, 'file-abc', 'cruddur-pg-1'), { recursive: true });
    mkdirSync(join(root, 'file-def'));
    teardown();
    expect(process.exitCode).toBe(1);
    expect(stderr).toHaveBeenCalledWith(
      expect.stringContaining(
        'tests left 3 entries in the temp directory: cdk.out123, file-abc/cruddur-pg-1, left.txt',
      ),
    );
    expect(existsSync(root)).toBe(false);
    expect(tmpdir()).toBe(outer);
  });

  it('passes a run that removed everything it made', () => {
    const teardown = setup();
    const root = tmpdir();
    mkdirSync(join(root, 'server'));
    process.exitCode = undefined;
    // What a well-behaved test does before it ends.
    rmSync(join(root, 'server'), { recursive: true });
    teardown();
    expect(process.exitCode).toBeUndefined();
    expect(existsSync(root)).toBe(false);
  });
});
