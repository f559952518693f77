// The export's store over export.user_data: the one function the user_exporter role may call.
import type { Queryable } from '../postgres/queryable';
import type { ExportStore, UserDataDocument } from './core';

export const USER_DATA = 'SELECT export.user_data($1) AS data';

export function postgresExportStore(db: Queryable): ExportStore {
  return {
    async userData(sub) {
      const { rows } = await db.query<{ data: UserDataDocument | null }>(USER_DATA, [sub]);
      return rows[0]?.data ?? null;
    },
  };
}
