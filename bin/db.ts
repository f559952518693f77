#!/usr/bin/env -S npx tsx
// `npm run db -- <command> [--prod]`: the operator's database commands.
import { Client } from 'pg';
import { ConfigurationError } from '../lambdas/shared/errors';
import { applyMigrations } from '../lambdas/shared/migrate';

const USAGE = 'usage: npm run db -- migrate [--prod]';

export function connectionUrl(env: NodeJS.ProcessEnv, prod: boolean): string {
  const variable = prod ? 'PROD_CONNECTION_URL' : 'CONNECTION_URL';
  const value = env[variable];
  if (!value) throw new ConfigurationError(variable, 'is not set');
  try {
    new URL(value);
  } catch {
    throw new ConfigurationError(variable, 'is not a valid postgres:// URL');
  }
  return value;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  const prod = rest.includes('--prod');
  switch (command) {
    case 'migrate': {
      const client = new Client({ connectionString: connectionUrl(env, prod), connectionTimeoutMillis: 10_000 });
      await client.connect();
      try {
        const applied = await applyMigrations(client);
        console.log(applied.length === 0 ? 'migrate: already up to date' : `migrate: applied ${applied.join(', ')}`);
      } finally {
        await client.end();
      }
      return 0;
    }
    default:
      console.error(USAGE);
      return 64;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`db: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
