import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const RUNTIME = join(__dirname, '..', '..', '..', 'lambdas', 'runtime');

/** The module specifiers a file imports or re-exports. */
function importsOf(source: string): string[] {
  return [...source.matchAll(/\bfrom\s+'([^']+)'|\bimport\s*\(\s*'([^']+)'\s*\)/g)].map(
    (match) => match[1] ?? match[2]!,
  );
}

describe('lambdas/runtime', () => {
  it('depends on no other folder of lambdas/', () => {
    const outside = readdirSync(RUNTIME)
      .filter((name) => name.endsWith('.ts'))
      .flatMap((name) =>
        importsOf(readFileSync(join(RUNTIME, name), 'utf8'))
          .filter((specifier) => specifier.startsWith('..'))
          .map((specifier) => `${name}: ${specifier}`),
      );
    expect(outside).toEqual([]);
  });

  it('sees an import of another folder, so an empty list means something', () => {
    expect(importsOf("import { x } from '../postgres/errors';\nconst y = import('./clock');")).toEqual([
      '../postgres/errors',
      './clock',
    ]);
  });
});
