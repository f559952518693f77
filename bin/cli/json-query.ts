// JSON built by PostgreSQL itself (json_agg, row_to_json): one round trip,
// and the database decides how every type (uuid, timestamptz, numeric) is written out.
import type { Queryable } from '../../lambdas/postgres/queryable';

// The wrapped text is a whole statement written by us (a constant or a file under sql/queries), never input:
// values travel as $1..$n parameters. Only a trailing semicolon is removed so the statement nests.
function nestable(sql: string): string {
  const trimmed = sql.trim().replace(/;\s*$/, '');
  if (trimmed.includes(';')) throw new Error('a wrapped query must be a single statement');
  return trimmed;
}

/** The first row of `sql` as a JSON object, or null when there is no row. */
export async function wrapObject<T = Record<string, unknown>>(
  db: Queryable,
  sql: string,
  values: unknown[] = [],
): Promise<T | null> {
  const wrapped = 'SELECT row_to_json(object_row) AS json FROM (\n' + nestable(sql) + '\n) object_row LIMIT 1';
  const { rows } = await db.query<{ json: T }>(wrapped, values);
  return rows[0]?.json ?? null;
}

/**
 * Every row of `sql` as a JSON array, `[]` when there are none. json_agg keeps the order of a sorted
 * subquery in practice (PostgreSQL documents this as the way to order an aggregate's input from a subquery).
 */
export async function wrapArray<T = Record<string, unknown>>(
  db: Queryable,
  sql: string,
  values: unknown[] = [],
): Promise<T[]> {
  const wrapped = "SELECT COALESCE(json_agg(array_row), '[]'::json) AS json FROM (\n" + nestable(sql) + '\n) array_row';
  const { rows } = await db.query<{ json: T[] }>(wrapped, values);
  return rows[0]?.json ?? [];
}
