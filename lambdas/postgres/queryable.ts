/** The smallest part of `pg` a repository needs, so that a Client, a Pool or a LazyConnection can serve. */
export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: R[] }>;
}
