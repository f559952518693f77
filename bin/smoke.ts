#!/usr/bin/env -S npx tsx
// `npm run smoke -- --stage dev|prod` (or `--local`): proves a deployment works end to end with a probe user
// that has no personal data and is erased at the end; no email is sent, no real user is read.
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { resolve } from 'node:path';
import { dataDirFrom } from '../local/stack-info';
import { awsClient, checkStage } from './cli/aws';
import {
  CliError,
  describeFailure,
  EXIT,
  parseCommandLine,
  processOutput,
  runMain,
  type Output,
  helpExit,
} from './cli/common';
import { awsSmokePlan, type AwsSmokeClients } from './cli/smoke-aws';
import { localSmokePlan } from './cli/smoke-local';
import { newProbeSub, runSmoke } from './cli/smoke-steps';

const USAGE = `usage: npm run smoke -- --stage dev|prod [--wait-seconds 90]
       npm run smoke -- --local [--data-dir DIR]
  --stage NAME        the deployed stage to check (Cruddur-<stage>-Auth)
  --wait-seconds N    how long the erase step waits for the writer (default 90)
  --local             check the running \`npm start\` stack instead
  --data-dir DIR      the local stack's state directory (default LOCAL_DATA_DIR, else .local)`;

const OPTIONS = {
  stage: { type: 'string' },
  local: { type: 'boolean', default: false },
  'data-dir': { type: 'string' },
  'wait-seconds': { type: 'string', default: '90' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export interface SmokeDeps {
  readonly output?: Output;
  readonly env?: NodeJS.ProcessEnv;
  /** The AWS clients; made from the standard chains when absent. */
  readonly clients?: Partial<AwsSmokeClients>;
  /** @default smoke-probe-<uuid v4> */
  readonly probe?: string;
  /** Between two reads of the writer's log group. @default 3000 */
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly clock?: () => number;
}

function waitSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > 900)
    throw new CliError(`--wait-seconds must be a whole number from 0 to 900\n${USAGE}`, EXIT.USAGE);
  return seconds;
}

export async function main(argv: string[], deps: SmokeDeps = {}): Promise<number> {
  const output = deps.output ?? processOutput;
  const env = deps.env ?? process.env;
  try {
    const { values, positionals } = parseCommandLine(argv, OPTIONS, USAGE);
    const help = helpExit(values, USAGE, output);
    if (help !== undefined) return help;
    if (positionals.length > 0)
      throw new CliError(`unexpected argument ${JSON.stringify(positionals[0]?.slice(0, 40))}\n${USAGE}`, EXIT.USAGE);
    if (values.local === (values.stage !== undefined))
      throw new CliError(`give either --stage or --local\n${USAGE}`, EXIT.USAGE);
    if (!values.local && values['data-dir'] !== undefined)
      throw new CliError(`--data-dir goes with --local\n${USAGE}`, EXIT.USAGE);
    const probe = deps.probe ?? newProbeSub();
    const clock = deps.clock ?? Date.now;
    if (values.local) {
      const dataDir = values['data-dir'] === undefined ? dataDirFrom(env) : resolve(values['data-dir']);
      return (await runSmoke(localSmokePlan({ dataDir, probe }), { output, clock })).exitCode;
    }
    const stage = checkStage(values.stage ?? '');
    const eraseWaitMs = waitSeconds(values['wait-seconds']) * 1000;
    const clients: AwsSmokeClients = {
      cloudFormation: deps.clients?.cloudFormation ?? awsClient(CloudFormationClient),
      cognito: deps.clients?.cognito ?? awsClient(CognitoIdentityProviderClient),
      lambda: deps.clients?.lambda ?? awsClient(LambdaClient),
      logs: deps.clients?.logs ?? awsClient(CloudWatchLogsClient),
    };
    const plan = awsSmokePlan(clients, {
      stage,
      probe,
      eraseWaitMs,
      clock,
      progress: (line) => output.err(line),
      ...(deps.pollMs !== undefined ? { pollMs: deps.pollMs } : {}),
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
    });
    return (await runSmoke(plan, { output, clock })).exitCode;
  } catch (error) {
    const { message, exitCode } = describeFailure(error);
    output.err(`smoke: ${message}`);
    return exitCode;
  }
}

if (require.main === module) runMain('smoke', () => main(process.argv.slice(2)));
