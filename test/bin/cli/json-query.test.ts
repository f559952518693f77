import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wrapArray, wrapObject } from '../../../bin/cli/json-query';
import { startTestServer, type TestServer } from '../../support/postgres';

let server: TestServer;
let db: Client;

beforeAll(async () => {
  server = await startTestServer();
  db = new Client({ connectionString: server.url() });
  await db.connect();
  await db.query(`CREATE TABLE items (id int, name text, at timestamptz, tags text[])`);
  await db.query(
    `INSERT INTO items VALUES (1, 'one', '2024-01-02T03:04:05Z', '{a,b}'), (2, 'two', NULL, '{}'), (3, 'three', NULL, NULL)`,
  );
});

afterAll(async () => {
  await db?.end();
  await server?.destroy();
});

describe('wrapArray', () => {
  it('returns the rows as JSON in the order of the query, with types written by PostgreSQL', async () => {
    const rows = await wrapArray(db, 'SELECT id, name, at, tags FROM items WHERE id < $1 ORDER BY id DESC;', [3]);
    expect(rows).toEqual([
      { id: 2, name: 'two', at: null, tags: [] },
      { id: 1, name: 'one', at: '2024-01-02T03:04:05+00:00', tags: ['a', 'b'] },
    ]);
  });

  it('returns an empty array when there are no rows', async () => {
    expect(await wrapArray(db, 'SELECT id FROM items WHERE id > $1', [100])).toEqual([]);
  });

  it('passes values as parameters, never into the text', async () => {
    expect(await wrapArray(db, 'SELECT id FROM items WHERE name = $1', ["one' OR '1'='1"])).toEqual([]);
  });

  it('refuses more than one statement', async () => {
    await expect(wrapArray(db, 'SELECT 1; DROP TABLE items')).rejects.toThrow('single statement');
  });
});

describe('wrapObject', () => {
  it('returns the first row as an object, or null', async () => {
    expect(await wrapObject(db, 'SELECT id, name FROM items WHERE id = $1', [3])).toEqual({ id: 3, name: 'three' });
    expect(await wrapObject(db, 'SELECT id FROM items WHERE id = $1', [42])).toBeNull();
  });
});
