import { describe, expect, it } from 'vitest';
import { createLogger, type LogFields } from '../../../lambdas/runtime/logger';

function capture() {
  const lines: string[] = [];
  return { lines, sink: (line: string) => void lines.push(line) };
}

describe('createLogger', () => {
  it('writes one JSON line per entry with level, message, timestamp, base fields and entry fields', () => {
    const { lines, sink } = capture();
    createLogger({ service: 'post-confirmation' }, sink).info('user written', { outcome: 'inserted', durationMs: 3 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    const entry = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(entry).toEqual({
      level: 'INFO',
      message: 'user written',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as unknown,
      service: 'post-confirmation',
      outcome: 'inserted',
      durationMs: 3,
    });
  });

  it('gives a child the parent fields plus its own, leaving the parent unchanged', () => {
    const { lines, sink } = capture();
    const parent = createLogger({ service: 's' }, sink);
    const child = parent.child({ requestId: 'r1' }).child({ triggerSource: 't' });
    child.warn('w');
    parent.error('e');
    const [fromChild, fromParent] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(fromChild).toMatchObject({ level: 'WARN', service: 's', requestId: 'r1', triggerSource: 't' });
    expect(fromParent).toMatchObject({ level: 'ERROR', service: 's' });
    expect(fromParent).not.toHaveProperty('requestId');
  });

  it('lets entry fields override base fields and drops undefined ones', () => {
    const { lines, sink } = capture();
    createLogger({ outcome: 'base' }, sink).info('m', { outcome: 'entry', sub: undefined });
    const entry = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(entry.outcome).toBe('entry');
    expect(entry).not.toHaveProperty('sub');
  });

  it('writes the same line as one merged object would, whichever names repeat across base, child and entry', () => {
    const cases: { base: LogFields; child?: LogFields; entry?: LogFields }[] = [
      { base: { service: 's' }, child: { requestId: 'r' }, entry: { sub: 'x', n: 1, ok: true, none: null } },
      { base: { service: 's' }, child: { service: 't', requestId: undefined }, entry: { requestId: 'late' } },
      { base: { service: 's', gone: 'g' }, child: { gone: undefined }, entry: { quote: 'a"b\\c\n\u2028' } },
      { base: { level: 'base-level' }, entry: { message: 'entry-message' } },
      { base: {}, child: { timestamp: 'child-time' } },
      { base: { 'odd "key"': 'v' }, entry: { service: undefined, nan: Number.NaN } },
    ];
    for (const { base, child, entry } of cases) {
      const { lines, sink } = capture();
      const root = createLogger(base, sink);
      (child === undefined ? root : root.child(child)).error('m "quoted"', entry);
      const line = lines[0] as string;
      const timestamp = (JSON.parse(line) as { timestamp?: unknown }).timestamp;
      const expected = JSON.stringify({
        level: 'ERROR',
        message: 'm "quoted"',
        timestamp: typeof timestamp === 'string' && /^\d{4}-/.test(timestamp) ? timestamp : 'no ISO timestamp',
        ...base,
        ...child,
        ...entry,
      });
      expect(line).toBe(expected);
    }
  });
});
