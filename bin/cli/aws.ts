// AWS plumbing for the operator commands: one way to build SDK clients, and stack-output lookups.
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CliError, EXIT } from './common';

/**
 * Every operator client is built here. No region, credentials or endpoint are passed on purpose: the SDK's
 * default chains read AWS_REGION / AWS_PROFILE / SSO / instance roles, and AWS_ENDPOINT_URL (or
 * AWS_ENDPOINT_URL_<SERVICE>) natively since v3.4xx; retries follow AWS_MAX_ATTEMPTS / AWS_RETRY_MODE.
 */
export function awsClient<C>(Client: new (config: { customUserAgent: string }) => C): C {
  return new Client({ customUserAgent: 'cruddur-ops' });
}

/** Stage names the CDK app accepts; also what keeps a stack name from being anything else. */
const STAGE = /^[a-z][a-z0-9-]{0,20}$/;

export function checkStage(stage: string): string {
  if (!STAGE.test(stage))
    throw new CliError(
      `--stage must be a stage name like dev or prod, got ${JSON.stringify(stage.slice(0, 30))}`,
      EXIT.USAGE,
    );
  return stage;
}

export function stackName(stage: string, part: 'Database' | 'Auth'): string {
  return `Cruddur-${checkStage(stage)}-${part}`;
}

/**
 * Reads one output of a deployed stack. A CfnOutput defined directly in the stack has the id as its key; one
 * inside a construct gets CDK's 8-character hash appended, which is accepted too.
 */
export async function stackOutput(
  cloudFormation: CloudFormationClient,
  stack: string,
  key: string,
  flag: string,
): Promise<string> {
  let outputs;
  try {
    const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stack }));
    outputs = Stacks?.[0]?.Outputs ?? [];
  } catch (error) {
    if (error instanceof Error && error.name === 'ValidationError' && /does not exist/.test(error.message)) {
      throw new CliError(
        `stack ${stack} does not exist in this account and region; deploy it, or pass ${flag}`,
        EXIT.CONFIG,
      );
    }
    throw error;
  }
  const hashed = new RegExp(`^${key}[0-9A-F]{8}$`);
  const output = outputs.find((o) => o.OutputKey === key) ?? outputs.find((o) => hashed.test(o.OutputKey ?? ''));
  if (!output?.OutputValue) {
    throw new CliError(`stack ${stack} has no ${key} output; pass ${flag}`, EXIT.CONFIG);
  }
  return output.OutputValue;
}
