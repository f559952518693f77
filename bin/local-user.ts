#!/usr/bin/env -S npx tsx
// Sign-ups against the running local stack without the AWS CLI: the SDK calls an app would make, then the row.
//   npx tsx bin/local-user.ts sign-up <email> [--name NAME] [--handle HANDLE] [--password P] [--admin]
//   npx tsx bin/local-user.ts list
import { Writable } from 'node:stream';
import { Console } from 'node:console';
import {
  AdminConfirmSignUpCommand,
  ConfirmSignUpCommand,
  SignUpCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { localCognitoClient, pendingConfirmationCode } from '../local/cognito';
import { dataDirFrom, readStackInfo, stackFilePath, type StackInfo } from '../local/stack-info';
import {
  CliError,
  describeFailure,
  EXIT,
  parseCommandLine,
  parseConnectionUrl,
  processOutput,
  runMain,
  type Output,
  helpExit,
} from './cli/common';
import { openClient } from './cli/postgres';

const USAGE = `usage: npx tsx bin/local-user.ts sign-up <email> [--name NAME] [--handle HANDLE] [--password P] [--admin]
       npx tsx bin/local-user.ts list`;
const OPTIONS = {
  name: { type: 'string' },
  handle: { type: 'string' },
  password: { type: 'string' },
  admin: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;
// A throwaway password for a user in a local emulator; pass --password to choose another.
const DEFAULT_PASSWORD = 'Local-only-1';

async function stackFrom(env: NodeJS.ProcessEnv): Promise<StackInfo> {
  const dir = dataDirFrom(env);
  const info = await readStackInfo(dir);
  if (!info) throw new CliError(`no ${stackFilePath(dir)}: run npm start first`, EXIT.CONFIG);
  return info;
}

async function rows(url: string, sub?: string): Promise<Record<string, unknown>[]> {
  const db = await openClient(parseConnectionUrl('connectionUrl in stack.json', url), { connectTimeoutMs: 5000 });
  try {
    const result = sub
      ? await db.query<Record<string, unknown>>(
          'SELECT uuid, cognito_user_id, email, display_name, handle, created_at FROM public.users WHERE cognito_user_id = $1',
          [sub],
        )
      : await db.query<Record<string, unknown>>(
          'SELECT uuid, cognito_user_id, email, display_name, handle, created_at FROM public.users ORDER BY created_at',
        );
    return result.rows;
  } finally {
    await db.end();
  }
}

/** console.table's layout as text, so that it goes through the command's Output like every other line. */
function table(data: readonly Record<string, unknown>[]): string {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  new Console({ stdout: sink }).table(data);
  return text.trimEnd();
}

async function signUp(
  stack: StackInfo,
  email: string,
  values: { name?: string; handle?: string; password?: string; admin: boolean },
  output: Output,
): Promise<string> {
  const cognito = localCognitoClient(stack.cognitoEndpoint);
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
    const sub = signedUp.UserSub;
    if (!sub) throw new CliError('SignUp returned no UserSub');
    output.out(`SignUp: sub ${sub}`);
    if (values.admin) {
      await cognito.send(new AdminConfirmSignUpCommand({ UserPoolId: stack.userPoolId, Username: email }));
      output.out('AdminConfirmSignUp: confirmed');
    } else {
      const code = await pendingConfirmationCode(stack.dataDir, stack.userPoolId, sub);
      if (!code) throw new CliError('cognito-local holds no confirmation code for the new user');
      await cognito.send(
        new ConfirmSignUpCommand({ ClientId: stack.userPoolClientId, Username: email, ConfirmationCode: code }),
      );
      output.out(`ConfirmSignUp: confirmed with code ${code}`);
    }
    return sub;
  } finally {
    cognito.destroy();
  }
}

export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  output: Output = processOutput,
): Promise<number> {
  try {
    const { values, positionals } = parseCommandLine(argv, OPTIONS, USAGE);
    const help = helpExit(values, USAGE, output);
    if (help !== undefined) return help;
    const [command, email] = positionals;
    const listing = command === 'list' && positionals.length === 1;
    if (!listing && (command !== 'sign-up' || !email || positionals.length !== 2))
      throw new CliError(USAGE, EXIT.USAGE);
    const stack = await stackFrom(env);
    if (listing) {
      output.out(table(await rows(stack.connectionUrl)));
      return EXIT.OK;
    }
    const sub = await signUp(stack, email as string, values, output);
    const found = await rows(stack.connectionUrl, sub);
    if (found.length === 0) {
      output.err('local-user: no row in public.users: see the npm start window for the function log line');
      return EXIT.FAILURE;
    }
    output.out(table(found));
    return EXIT.OK;
  } catch (error) {
    const { message, exitCode } = describeFailure(error);
    output.err(`local-user: ${message}`);
    return exitCode;
  }
}

if (require.main === module) runMain('local-user', () => main(process.argv.slice(2)));
