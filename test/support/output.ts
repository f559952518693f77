// Captures what a command-line `main` writes, line by line.
import { vi } from 'vitest';
import type { Output } from '../../bin/cli/common';

export interface CapturedOutput {
  readonly output: Output;
  readonly out: string[];
  readonly err: string[];
  /** Everything written, both streams, as one string (for "never printed" checks). */
  all(): string;
}

export function captureOutput(): CapturedOutput {
  const out: string[] = [];
  const err: string[] = [];
  return {
    output: { out: (line) => void out.push(line), err: (line) => void err.push(line) },
    out,
    err,
    all: () => [...out, ...err].join('\n'),
  };
}

/** Swallows what the functions write to stdout (their JSON log lines) and returns them, for assertions. */
export function captureLogLines(): string[] {
  const lines: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  return lines;
}
