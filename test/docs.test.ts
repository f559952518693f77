// The README is a front door: short, the quick start near the top, every docs page linked, and no link in it
// or in docs/ that leads nowhere (a missing file, or an anchor no heading makes).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..');
const README = join(ROOT, 'README.md');
const DOCS = join(ROOT, 'docs');
const MAX_README_LINES = 300;
const QUICK_START_WITHIN = 60;

const FENCE = /^\s*(```|~~~)/;

/** The lines outside fenced code blocks, with their 1-based line numbers. */
function proseLines(markdown: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let fenced = false;
  markdown.split('\n').forEach((text, index) => {
    if (FENCE.test(text)) {
      fenced = !fenced;
      return;
    }
    if (!fenced) out.push({ line: index + 1, text });
  });
  return out;
}

/** GitHub's anchor for a heading: the rendered text, lower-cased, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/`([^`]*)`/g, '$1')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a file's headings make, a repeated one numbered as GitHub does (`x`, `x-1`, `x-2`). */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const { text } of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!heading?.[1]) continue;
    const base = slug(heading[1]);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** Link targets outside code: inline `[text](target)`, images, and reference definitions `[id]: target`. */
function linkTargets(markdown: string): { line: number; target: string }[] {
  const out: { line: number; target: string }[] = [];
  for (const { line, text } of proseLines(markdown)) {
    const prose = text.replace(/`[^`]*`/g, '');
    for (const match of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      if (match[1]) out.push({ line, target: match[1] });
    }
    const definition = /^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(prose);
    if (definition?.[1]) out.push({ line, target: definition[1] });
  }
  return out;
}

const isExternal = (target: string): boolean => /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');

/** The files inside the repository a markdown file links to (relative links only), resolved. */
function linkedFiles(file: string): string[] {
  return linkTargets(readFileSync(file, 'utf8'))
    .filter(({ target }) => !isExternal(target) && !target.startsWith('#'))
    .map(({ target }) => resolve(dirname(file), decodeURIComponent(target.split('#')[0] ?? '')));
}

/** One line per relative link in `file` whose file does not exist or whose `#anchor` no heading makes. */
function brokenLinks(file: string): string[] {
  const problems: string[] = [];
  const where = (line: number): string => `${relative(ROOT, file)}:${line}`;
  for (const { line, target } of linkTargets(readFileSync(file, 'utf8'))) {
    if (isExternal(target)) continue;
    const hash = target.indexOf('#');
    const path = hash === -1 ? target : target.slice(0, hash);
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const resolved = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
    if (!existsSync(resolved)) {
      problems.push(`${where(line)}: ${target}: no file ${relative(ROOT, resolved)}`);
      continue;
    }
    if (anchor !== undefined && resolved.endsWith('.md') && !anchors(readFileSync(resolved, 'utf8')).has(anchor)) {
      problems.push(`${where(line)}: ${target}: no heading makes #${anchor} in ${relative(ROOT, resolved)}`);
    }
  }
  return problems;
}

const docsPages = (): string[] =>
  readdirSync(DOCS)
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => join(DOCS, name));

describe('the link checker', () => {
  it('makes the anchors GitHub makes', () => {
    expect(slug('`sam local invoke` (needs Docker and the SAM CLI)')).toBe(
      'sam-local-invoke-needs-docker-and-the-sam-cli',
    );
    expect(slug('Stop, ports and data')).toBe('stop-ports-and-data');
    expect(slug('Scaling: RDS Proxy')).toBe('scaling-rds-proxy');
    expect(slug('What `user_state` holds')).toBe('what-user_state-holds');
    expect([...anchors('# A\n## Notes\n```\n## Not a heading\n```\n## Notes\n')]).toEqual(['a', 'notes', 'notes-1']);
  });

  it('reports a missing file and a missing anchor, and passes links that resolve', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cruddur-docs-test-'));
    try {
      writeFileSync(join(dir, 'b.md'), '# B\n\n## Present heading\n');
      const a = join(dir, 'a.md');
      writeFileSync(
        a,
        [
          '# A',
          '[ok](b.md#present-heading) [ok](#a) [ok](https://example.com/x.md#nowhere) `[code](gone.md)`',
          '[bad](b.md#absent) [bad](gone.md) [bad](#nowhere)',
          '```',
          '[in a code block](gone-too.md)',
          '```',
        ].join('\n'),
      );
      const problems = brokenLinks(a);
      expect(problems).toHaveLength(3);
      expect(problems[0]).toMatch(/b\.md#absent: no heading makes #absent/);
      expect(problems[1]).toMatch(/gone\.md: no file/);
      expect(problems[2]).toMatch(/#nowhere: no heading makes #nowhere/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('README.md', () => {
  const readme = readFileSync(README, 'utf8');

  it(`is at most ${MAX_README_LINES} lines`, () => {
    expect(readme.trimEnd().split('\n').length).toBeLessThanOrEqual(MAX_README_LINES);
  });

  it(`has the quick start heading within its first ${QUICK_START_WITHIN} lines`, () => {
    const heading = proseLines(readme).find(({ text }) => /^#{1,3}\s+Quick start\b/i.test(text));
    expect(heading, 'a "Quick start" heading').toBeDefined();
    expect(heading?.line).toBeLessThanOrEqual(QUICK_START_WITHIN);
  });

  it('links every docs page', () => {
    const linked = new Set(linkedFiles(README));
    const unlinked = docsPages()
      .filter((page) => !linked.has(page))
      .map((page) => relative(ROOT, page));
    expect(unlinked).toEqual([]);
  });
});

describe('relative links', () => {
  it.each([README, ...docsPages()].map((file) => [relative(ROOT, file), file]))(
    'in %s lead to a file and a heading that exist',
    (_name, file) => {
      expect(brokenLinks(file)).toEqual([]);
    },
  );
});
