/** Per-call limits a caller may set on one statement. */
export interface QueryOptions {
  /**
   * Epoch ms by which the statement must have answered, connect and retry included: one deadline per event,
   * shared by every statement of it. @default the connection's own budget from the start of this call
   */
  readonly deadline?: number;
  /**
   * Runs the statement as a named prepared statement: parsed and planned once per connection, then only bound
   * and executed. pg prepares it again on a new connection by itself (it tracks names per connection).
   */
  readonly name?: string;
}

/** The smallest part of `pg` a repository needs, so that a Client, a Pool or a LazyConnection can serve. */
export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    text: string,
    values?: unknown[],
    options?: QueryOptions,
  ): Promise<{ rows: R[] }>;
}
