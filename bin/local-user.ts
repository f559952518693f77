#!/usr/bin/env -S npx tsx
// Sign-ups against the running local stack without the AWS CLI: the SDK calls an app would make, then the row.
//   npx tsx bin/local-user.ts sign-up <email> [--name NAME] [--handle HANDLE] [--password P] [--admin]
//   npx tsx bin/local-user.ts list
import { readFileSync, existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AdminConfirmSignUpCommand, ConfirmSignUpCommand, SignUpCommand } from '@aws-sdk/client-cognito-identity-provider';
import { Client } from 'pg';
import { localCognitoClient, pendingConfirmationCode } from '../local/cognito';
import { DEFAULT_DATA_DIR, stackFilePath, type StackInfo } from '../local/stack';

const USAGE = `usage: npx tsx bin/local-user.ts sign-up <email> [--name NAME] [--handle HANDLE] [--password P] [--admin]
       npx tsx bin/local-user.ts list`;
// A throwaway password for a user in a local emulator; pass --password to choose another.
const DEFAULT_PASSWORD = 'Local-only-1';

class LocalUserError extends Error {
  override readonly name = 'LocalUserError';
}

function readStack(env: NodeJS.ProcessEnv): StackInfo {
  const file = stackFilePath(env.LOCAL_DATA_DIR || DEFAULT_DATA_DIR);
  if (!existsSync(file)) throw new LocalUserError(`no ${file}: run npm start first`);
  return JSON.parse(readFileSync(file, 'utf8')) as StackInfo;
}

async function rows(url: string, sub?: string): Promise<Record<string, unknown>[]> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    const result = sub
      ? await db.query('SELECT uuid, cognito_user_id, email, display_name, handle, created_at FROM public.users WHERE cognito_user_id = $1', [sub])
      : await db.query('SELECT uuid, cognito_user_id, email, display_name, handle, created_at FROM public.users ORDER BY created_at');
    return result.rows as Record<string, unknown>[];
  } finally {
    await db.end();
  }
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      handle: { type: 'string' },
      password: { type: 'string' },
      admin: { type: 'boolean' },
    },
  });
  const [command, email] = positionals;
  const stack = readStack(env);
  if (command === 'list' && positionals.length === 1) {
    console.table(await rows(stack.connectionUrl));
    return 0;
  }
  if (command !== 'sign-up' || !email || positionals.length !== 2) throw new LocalUserError(USAGE);

  const cognito = localCognitoClient(stack.cognitoEndpoint);
  let sub: string | undefined;
  try {
    const attributes = [
      ...(values.name ? [{ Name: 'name', Value: values.name }] : []),
      ...(values.handle ? [{ Name: 'preferred_username', Value: values.handle }] : []),
    ];
    const signedUp = await cognito.send(
      new SignUpCommand({
        ClientId: stack.userPoolClientId,
        Username: email,
        Password: values.password ?? DEFAULT_PASSWORD,
        UserAttributes: attributes,
      }),
    );
    sub = signedUp.UserSub;
    if (!sub) throw new LocalUserError('SignUp returned no UserSub');
    console.log(`SignUp: sub ${sub}`);
    if (values.admin) {
      await cognito.send(new AdminConfirmSignUpCommand({ UserPoolId: stack.userPoolId, Username: email }));
      console.log('AdminConfirmSignUp: confirmed');
    } else {
      const code = await pendingConfirmationCode(stack.dataDir, stack.userPoolId, sub);
      if (!code) throw new LocalUserError('cognito-local holds no confirmation code for the new user');
      await cognito.send(new ConfirmSignUpCommand({ ClientId: stack.userPoolClientId, Username: email, ConfirmationCode: code }));
      console.log(`ConfirmSignUp: confirmed with code ${code}`);
    }
  } finally {
    cognito.destroy();
  }
  const found = await rows(stack.connectionUrl, sub);
  if (found.length === 0) {
    console.error('no row in public.users: see the npm start window for the function log line');
    return 1;
  }
  console.table(found);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof LocalUserError ? error.message : `local-user: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
      process.exit(error instanceof LocalUserError ? 64 : 1);
    },
  );
}
