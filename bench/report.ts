// Figures, their targets and the table: pure, so test/bench/report.test.ts can check the pass/fail logic.

export type Comparison = 'at most' | 'at least' | 'exactly';

export interface Target {
  readonly comparison: Comparison;
  readonly value: number;
}

export interface Figure {
  /** Stable key in results.json, e.g. `warm.ratioP50`. */
  readonly id: string;
  readonly label: string;
  readonly value: number;
  readonly unit: string;
  readonly target?: Target;
  /** Extra context shown next to the figure (raw bytes, the two sides of a ratio, ...). */
  readonly detail?: string;
  /** Shown when the target is missed: the measured limit, why, and what would move it. */
  readonly whenMissed?: string;
}

export interface EvaluatedFigure extends Figure {
  /** `null` when the figure has no target (reported for context only). */
  readonly pass: boolean | null;
}

export const atMost = (value: number): Target => ({ comparison: 'at most', value });
export const atLeast = (value: number): Target => ({ comparison: 'at least', value });
export const exactly = (value: number): Target => ({ comparison: 'exactly', value });

export function meets(value: number, target: Target): boolean {
  if (!Number.isFinite(value)) return false;
  switch (target.comparison) {
    case 'at most':
      return value <= target.value;
    case 'at least':
      return value >= target.value;
    case 'exactly':
      return value === target.value;
  }
}

export function evaluate(figure: Figure): EvaluatedFigure {
  const pass = figure.target === undefined ? null : meets(figure.value, figure.target);
  // A missed-target explanation belongs only to a figure that missed.
  const { whenMissed, ...rest } = figure;
  return pass === false && whenMissed !== undefined ? { ...rest, whenMissed, pass } : { ...rest, pass };
}

/** A ratio rounded for display; infinite when the denominator is zero. */
export function ratio(numerator: number, denominator: number): number {
  return denominator === 0 ? Number.POSITIVE_INFINITY : numerator / denominator;
}

/** Rounds to a number of significant digits that reads well in a table (3 for small values, integers above). */
export function round(value: number): number {
  if (!Number.isFinite(value) || value === 0) return value;
  if (Math.abs(value) >= 100) return Math.round(value);
  return Number(value.toPrecision(3));
}

function show(value: number, unit: string): string {
  const number = round(value).toLocaleString('en-US', { maximumFractionDigits: 3 });
  return unit === 'x' ? `${number}x` : unit === '' ? number : `${number} ${unit}`;
}

function verdict(pass: boolean | null): string {
  if (pass === null) return '';
  return pass ? 'pass' : '**MISS**';
}

/** A Markdown table, readable as plain text too: figure, measured, target, verdict, detail. */
export function formatTable(figures: readonly EvaluatedFigure[]): string {
  const rows = figures.map((f) => [
    f.label,
    show(f.value, f.unit),
    f.target ? `${f.target.comparison} ${show(f.target.value, f.unit)}` : '',
    verdict(f.pass),
    f.detail ?? '',
  ]);
  const header = ['figure', 'measured', 'target', '', 'detail'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
