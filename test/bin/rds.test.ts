import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CloudFormationClient,
  CloudFormationServiceException,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupRulesCommand,
  EC2Client,
  ModifySecurityGroupRulesCommand,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import {
  DescribeDBInstancesCommand,
  InvalidDBInstanceStateFault,
  RDSClient,
  RDSServiceException,
  StartDBInstanceCommand,
  StopDBInstanceCommand,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EXIT } from '../../bin/cli/common';
import { RULE_DESCRIPTION, main, type RdsDeps } from '../../bin/rds';
import { captureOutput } from '../support/output';

const config = { region: 'us-east-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' } };
const rds = new RDSClient(config);
const cloudFormation = new CloudFormationClient(config);
const ec2 = new EC2Client(config);
const rdsMock = mockClient(rds);
const cfnMock = mockClient(cloudFormation);
const ec2Mock = mockClient(ec2);

const GROUP = 'sg-0123456789abcdef0';

beforeEach(() => {
  rdsMock.reset();
  cfnMock.reset();
  ec2Mock.reset();
});

async function run(argv: string[], deps: Partial<RdsDeps> = {}) {
  const captured = captureOutput();
  const fetch = vi.fn(() => Promise.reject(new Error('no network in tests')));
  const code = await main(
    argv,
    {},
    { output: captured.output, rds, cloudFormation, ec2, fetch, pollIntervalMs: 0, ...deps },
  );
  return { code, ...captured };
}

function instances(...statuses: string[]) {
  const stub = rdsMock.on(DescribeDBInstancesCommand);
  for (const status of statuses) {
    stub.resolvesOnce({ DBInstances: [{ DBInstanceIdentifier: 'cruddur-db', DBInstanceStatus: status }] });
  }
}

function stackOutputs(outputs: Record<string, string>) {
  cfnMock.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'Cruddur-dev-Database',
        CreationTime: new Date(),
        StackStatus: 'CREATE_COMPLETE',
        Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  });
}

describe('rds status', () => {
  it('looks the instance up from the stage stack output and prints its state', async () => {
    stackOutputs({ DatabaseSecurityGroupId: GROUP, DatabaseInstanceId: 'cruddur-db' });
    rdsMock.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'cruddur-db' }).resolves({
      DBInstances: [
        {
          DBInstanceIdentifier: 'cruddur-db',
          DBInstanceStatus: 'available',
          DBInstanceClass: 'db.t4g.micro',
          Engine: 'postgres',
          EngineVersion: '17.4',
          Endpoint: { Address: 'cruddur-db.abc.us-east-1.rds.amazonaws.com', Port: 5432 },
          PubliclyAccessible: false,
        },
      ],
    });
    const result = await run(['status']);
    expect(result.code).toBe(EXIT.OK);
    expect(cfnMock.commandCalls(DescribeStacksCommand)[0]?.args[0].input).toEqual({
      StackName: 'Cruddur-dev-Database',
    });
    expect(result.out).toEqual([
      'instance cruddur-db',
      'status   available',
      'class    db.t4g.micro',
      'engine   postgres 17.4',
      'endpoint cruddur-db.abc.us-east-1.rds.amazonaws.com:5432',
      'public   no',
    ]);
  });

  it('reads the stack of the given stage and accepts an output key with a CDK hash', async () => {
    cfnMock.on(DescribeStacksCommand, { StackName: 'Cruddur-prod-Database' }).resolves({
      Stacks: [
        {
          StackName: 'Cruddur-prod-Database',
          CreationTime: new Date(),
          StackStatus: 'UPDATE_COMPLETE',
          Outputs: [{ OutputKey: 'DatabaseInstanceIdA1B2C3D4', OutputValue: 'prod-db' }],
        },
      ],
    });
    rdsMock
      .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'prod-db' })
      .resolves({ DBInstances: [{ DBInstanceStatus: 'stopped' }] });
    const result = await run(['status', '--stage', 'prod']);
    expect(result.code).toBe(EXIT.OK);
    expect(result.out[1]).toBe('status   stopped');
  });

  it('says which flag to pass when the stack does not exist', async () => {
    cfnMock.on(DescribeStacksCommand).rejects(
      new CloudFormationServiceException({
        name: 'ValidationError',
        $fault: 'client',
        $metadata: {},
        message: 'Stack with id Cruddur-dev-Database does not exist',
      }),
    );
    const result = await run(['status']);
    expect(result.code).toBe(EXIT.CONFIG);
    expect(result.err).toEqual([
      'rds: stack Cruddur-dev-Database does not exist in this account and region; deploy it, or pass --instance ID',
    ]);
  });

  it('says which flag to pass when the stack has no such output', async () => {
    stackOutputs({ Other: 'x' });
    const result = await run(['status']);
    expect(result.code).toBe(EXIT.CONFIG);
    expect(result.err[0]).toMatch(/has no DatabaseInstanceId output; pass --instance ID/);
  });

  it('surfaces throttling that outlasted the SDK retries as one clear line', async () => {
    rdsMock.on(DescribeDBInstancesCommand).rejects(
      new RDSServiceException({
        name: 'Throttling',
        $fault: 'client',
        $metadata: { httpStatusCode: 400, attempts: 3 },
        message: 'Rate exceeded',
      }),
    );
    const result = await run(['status', '--instance', 'cruddur-db']);
    expect(result.code).toBe(EXIT.TEMPFAIL);
    expect(result.err).toEqual([
      'rds: AWS throttled the request (3 attempts) (Throttling); wait a minute and run it again, or raise AWS_MAX_ATTEMPTS',
    ]);
  });

  it('rejects an unknown command, a bad instance id and a bad stage', async () => {
    expect((await run(['reboot'])).code).toBe(EXIT.USAGE);
    expect((await run(['status', '--instance', 'bad id;'])).code).toBe(EXIT.USAGE);
    expect((await run(['status', '--stage', '../x'])).code).toBe(EXIT.USAGE);
    expect(rdsMock.calls()).toHaveLength(0);
  });
});

describe('rds stop and start', () => {
  it('stops the instance, warns about the 7-day restart and waits with progress until it is stopped', async () => {
    instances('available', 'available', 'stopping', 'stopping', 'stopped');
    rdsMock.on(StopDBInstanceCommand).resolves({});
    const result = await run(['stop', '--instance', 'cruddur-db']);
    expect(result.code).toBe(EXIT.OK);
    expect(rdsMock.commandCalls(StopDBInstanceCommand)[0]?.args[0].input).toEqual({
      DBInstanceIdentifier: 'cruddur-db',
    });
    expect(result.out.join('\n')).toMatch(/after 7 days/);
    expect(result.err).toEqual([
      'rds: cruddur-db is available (0s)',
      'rds: cruddur-db is stopping (0s)',
      'rds: cruddur-db is stopped (0s)',
    ]);
    expect(result.out.at(-1)).toBe('cruddur-db is stopped');
    expect(rdsMock.commandCalls(DescribeDBInstancesCommand)).toHaveLength(5);
  });

  it('returns at once with --no-wait', async () => {
    instances('stopped');
    rdsMock.on(StartDBInstanceCommand).resolves({});
    const result = await run(['start', '--instance', 'cruddur-db', '--no-wait']);
    expect(result.code).toBe(EXIT.OK);
    expect(rdsMock.commandCalls(StartDBInstanceCommand)).toHaveLength(1);
    expect(rdsMock.commandCalls(DescribeDBInstancesCommand)).toHaveLength(1);
    expect(result.out).toEqual(['starting cruddur-db (was stopped)']);
  });

  it('starts the instance and waits until it is available', async () => {
    instances('stopped', 'stopped', 'starting', 'configuring-enhanced-monitoring', 'available');
    rdsMock.on(StartDBInstanceCommand).resolves({});
    const result = await run(['start', '--instance', 'cruddur-db']);
    expect(result.code).toBe(EXIT.OK);
    expect(result.out.at(-1)).toBe('cruddur-db is available');
    expect(result.out.join('\n')).not.toMatch(/7 days/);
  });

  it('refuses to stop a stopped instance with the wrong-state exit code, without calling stop', async () => {
    instances('stopped');
    const result = await run(['stop', '--instance', 'cruddur-db']);
    expect(result.code).toBe(EXIT.WRONG_STATE);
    expect(result.err).toEqual(['rds: cruddur-db is already stopped; nothing to stop']);
    expect(rdsMock.commandCalls(StopDBInstanceCommand)).toHaveLength(0);
  });

  it('turns InvalidDBInstanceStateFault into the wrong-state exit code with the current state', async () => {
    instances('backing-up');
    rdsMock
      .on(StopDBInstanceCommand)
      .rejects(
        new InvalidDBInstanceStateFault({ $metadata: {}, message: 'Instance cruddur-db is not in available state.' }),
      );
    const result = await run(['stop', '--instance', 'cruddur-db']);
    expect(result.code).toBe(EXIT.WRONG_STATE);
    expect(result.err).toEqual([
      'rds: cannot stop cruddur-db while it is backing-up: Instance cruddur-db is not in available state.',
    ]);
  });

  it('gives up with the timeout exit code when the state does not settle', async () => {
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ DBInstanceStatus: 'starting' }] });
    let clock = 0;
    const result = await run(['start', '--instance', 'cruddur-db'], {
      now: () => (clock += 60_000),
      maxWaitMs: 5 * 60_000,
    });
    expect(result.code).toBe(EXIT.TIMEOUT);
    expect(result.err.at(-1)).toMatch(/still starting after \d+s/);
    expect(rdsMock.commandCalls(StartDBInstanceCommand)).toHaveLength(0);
  });

  it('stops waiting when the instance lands in a state it will not leave alone', async () => {
    instances('stopped', 'starting', 'incompatible-network');
    rdsMock.on(StartDBInstanceCommand).resolves({});
    const result = await run(['start', '--instance', 'cruddur-db']);
    expect(result.code).toBe(EXIT.WRONG_STATE);
    expect(result.err.at(-1)).toMatch(/went to incompatible-network/);
  });

  it('names a missing instance', async () => {
    rdsMock.on(DescribeDBInstancesCommand).rejects(
      new RDSServiceException({
        name: 'DBInstanceNotFoundFault',
        $fault: 'client',
        $metadata: {},
        message: 'DBInstance x not found.',
      }),
    );
    const result = await run(['start', '--instance', 'nope']);
    expect(result.code).toBe(EXIT.CONFIG);
    expect(result.err[0]).toMatch(/no DB instance nope/);
  });
});

describe('rds allow-ip', () => {
  function rules(...list: SecurityGroupRule[][]) {
    const stub = ec2Mock.on(DescribeSecurityGroupRulesCommand);
    list.forEach((page, index) => {
      stub.resolvesOnce({
        SecurityGroupRules: page,
        NextToken: index < list.length - 1 ? `page-${index + 1}` : undefined,
      });
    });
  }

  const ours = (cidr: string): SecurityGroupRule => ({
    SecurityGroupRuleId: 'sgr-0aaa',
    GroupId: GROUP,
    IsEgress: false,
    IpProtocol: 'tcp',
    FromPort: 5432,
    ToPort: 5432,
    CidrIpv4: cidr,
    Description: RULE_DESCRIPTION,
  });
  const other: SecurityGroupRule = {
    SecurityGroupRuleId: 'sgr-0bbb',
    GroupId: GROUP,
    IsEgress: false,
    IpProtocol: 'tcp',
    FromPort: 5432,
    ToPort: 5432,
    ReferencedGroupInfo: { GroupId: 'sg-0fffffffffffffff0' },
    Description: 'from the functions',
  };
  const egress: SecurityGroupRule = {
    ...ours('0.0.0.0/0'),
    SecurityGroupRuleId: 'sgr-0ccc',
    IsEgress: true,
    IpProtocol: '-1',
  };

  it('refuses --stage prod with its own exit code before any AWS call, even with --ip and --group', async () => {
    const result = await run(['allow-ip', '--stage', 'prod', '--ip', '203.0.113.7', '--group', GROUP]);
    expect(result.code).toBe(EXIT.NOT_ON_PROD);
    expect(result.err.join('\n')).toMatch(/allow-ip is for dev only/);
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(cfnMock.calls()).toHaveLength(0);
  });

  it('creates the rule when it is missing, with the group from the stack output', async () => {
    stackOutputs({ DatabaseSecurityGroupId: GROUP });
    rules([other, egress]);
    ec2Mock
      .on(AuthorizeSecurityGroupIngressCommand)
      .resolves({ Return: true, SecurityGroupRules: [{ SecurityGroupRuleId: 'sgr-0new' }] });
    const result = await run(['allow-ip', '--ip', '203.0.113.7']);
    expect(result.code).toBe(EXIT.OK);
    expect(ec2Mock.commandCalls(DescribeSecurityGroupRulesCommand)[0]?.args[0].input).toMatchObject({
      Filters: [{ Name: 'group-id', Values: [GROUP] }],
    });
    expect(ec2Mock.commandCalls(AuthorizeSecurityGroupIngressCommand)[0]?.args[0].input).toEqual({
      GroupId: GROUP,
      IpPermissions: [
        {
          IpProtocol: 'tcp',
          FromPort: 5432,
          ToPort: 5432,
          IpRanges: [{ CidrIp: '203.0.113.7/32', Description: RULE_DESCRIPTION }],
        },
      ],
    });
    expect(ec2Mock.commandCalls(ModifySecurityGroupRulesCommand)).toHaveLength(0);
    expect(result.out).toEqual([`${GROUP}: created rule sgr-0new allowing 203.0.113.7/32 on tcp/5432`]);
  });

  it('modifies the existing rule found on a later page to the new address', async () => {
    rules([other], [egress], [ours('198.51.100.1/32')]);
    ec2Mock.on(ModifySecurityGroupRulesCommand).resolves({ Return: true });
    const result = await run(['allow-ip', '--ip', '203.0.113.7', '--group', GROUP]);
    expect(result.code).toBe(EXIT.OK);
    expect(ec2Mock.commandCalls(DescribeSecurityGroupRulesCommand)).toHaveLength(3);
    expect(ec2Mock.commandCalls(DescribeSecurityGroupRulesCommand)[2]?.args[0].input.NextToken).toBe('page-2');
    expect(ec2Mock.commandCalls(ModifySecurityGroupRulesCommand)[0]?.args[0].input).toEqual({
      GroupId: GROUP,
      SecurityGroupRules: [
        {
          SecurityGroupRuleId: 'sgr-0aaa',
          SecurityGroupRule: {
            IpProtocol: 'tcp',
            FromPort: 5432,
            ToPort: 5432,
            CidrIpv4: '203.0.113.7/32',
            Description: RULE_DESCRIPTION,
          },
        },
      ],
    });
    expect(ec2Mock.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(0);
    expect(cfnMock.calls()).toHaveLength(0);
  });

  it('changes nothing when the rule already allows the address', async () => {
    rules([ours('203.0.113.7/32'), other]);
    const result = await run(['allow-ip', '--ip', '203.0.113.7', '--group', GROUP]);
    expect(result.code).toBe(EXIT.OK);
    expect(result.out[0]).toMatch(/already allows 203\.0\.113\.7\/32 on tcp\/5432; nothing to do/);
    expect(ec2Mock.commandCalls(ModifySecurityGroupRulesCommand)).toHaveLength(0);
    expect(ec2Mock.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(0);
  });

  it('asks checkip.amazonaws.com for the public address when no --ip is given', async () => {
    rules([ours('198.51.100.1/32')]);
    ec2Mock.on(ModifySecurityGroupRulesCommand).resolves({ Return: true });
    const fetch = vi.fn(() => Promise.resolve(new Response('192.0.2.44\n')));
    const result = await run(['allow-ip', '--group', GROUP], { fetch: fetch as unknown as typeof globalThis.fetch });
    expect(result.code).toBe(EXIT.OK);
    expect(fetch).toHaveBeenCalledWith('https://checkip.amazonaws.com', expect.anything());
    expect(
      ec2Mock.commandCalls(ModifySecurityGroupRulesCommand)[0]?.args[0].input.SecurityGroupRules?.[0]?.SecurityGroupRule
        ?.CidrIpv4,
    ).toBe('192.0.2.44/32');
  });

  it('refuses an answer from checkip that is not one IPv4 address', async () => {
    const fetch = vi.fn(() => Promise.resolve(new Response('<html>captive portal</html>')));
    const result = await run(['allow-ip', '--group', GROUP], { fetch: fetch as unknown as typeof globalThis.fetch });
    expect(result.code).toBe(EXIT.USAGE);
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  it('says to pass --ip when checkip cannot be reached', async () => {
    const result = await run(['allow-ip', '--group', GROUP]);
    expect(result.code).toBe(EXIT.UNAVAILABLE);
    expect(result.err[0]).toMatch(/pass --ip A\.B\.C\.D/);
  });

  it.each(['0.0.0.0', '0.0.0.0/0', '10.0.0.0/8', '203.0.113.7/32', '2001:db8::1', '300.1.1.1', 'localhost'])(
    'refuses --ip %s without calling AWS',
    async (ip) => {
      const result = await run(['allow-ip', '--ip', ip, '--group', GROUP]);
      expect(result.code).toBe(EXIT.USAGE);
      expect(ec2Mock.calls()).toHaveLength(0);
    },
  );

  it('refuses to choose between two rules carrying its description', async () => {
    rules([ours('198.51.100.1/32'), { ...ours('198.51.100.2/32'), SecurityGroupRuleId: 'sgr-0ddd' }]);
    const result = await run(['allow-ip', '--ip', '203.0.113.7', '--group', GROUP]);
    expect(result.code).toBe(EXIT.WRONG_STATE);
    expect(result.err[0]).toMatch(/2 ingress rules .*sgr-0aaa, sgr-0ddd/);
    expect(ec2Mock.commandCalls(ModifySecurityGroupRulesCommand)).toHaveLength(0);
  });

  it('rejects a group id that is not one', async () => {
    const result = await run(['allow-ip', '--ip', '203.0.113.7', '--group', 'default']);
    expect(result.code).toBe(EXIT.USAGE);
    expect(ec2Mock.calls()).toHaveLength(0);
  });
});

describe('AWS clients built by the command line', () => {
  let server: Server;
  let requests: { url: string; body: string }[];
  let throttleNext: number;

  beforeEach(async () => {
    requests = [];
    throttleNext = 0;
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        requests.push({ url: request.url ?? '', body });
        if (throttleNext > 0) {
          throttleNext -= 1;
          response.writeHead(400, { 'content-type': 'text/xml' });
          response.end(
            '<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>Throttling</Code>' +
              '<Message>Rate exceeded</Message></Error><RequestId>2</RequestId></ErrorResponse>',
          );
          return;
        }
        response.writeHead(200, { 'content-type': 'text/xml' });
        response.end(
          '<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBInstancesResult><DBInstances><DBInstance>' +
            '<DBInstanceIdentifier>local-db</DBInstanceIdentifier><DBInstanceStatus>available</DBInstanceStatus>' +
            '</DBInstance></DBInstances></DescribeDBInstancesResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeDBInstancesResponse>',
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends requests to AWS_ENDPOINT_URL with the region and credentials of the standard chain', async () => {
    const { port } = server.address() as AddressInfo;
    vi.stubEnv('AWS_ENDPOINT_URL', `http://127.0.0.1:${port}`);
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDLOCAL');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local-secret');
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
    const captured = captureOutput();
    // No clients injected: main builds its own, as an operator's run does.
    const code = await main(['status', '--instance', 'local-db'], {}, { output: captured.output });
    expect(requests).toHaveLength(1);
    expect(requests[0]?.body).toContain('Action=DescribeDBInstances');
    expect(code).toBe(EXIT.OK);
    expect(captured.out[1]).toBe('status   available');
  });

  function stubLocalAws(): void {
    const { port } = server.address() as AddressInfo;
    vi.stubEnv('AWS_ENDPOINT_URL', `http://127.0.0.1:${port}`);
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDLOCAL');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local-secret');
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  }

  it('relies on the SDK to retry a throttled call', async () => {
    stubLocalAws();
    throttleNext = 2;
    const captured = captureOutput();
    const code = await main(['status', '--instance', 'local-db'], {}, { output: captured.output });
    expect(requests).toHaveLength(3);
    expect(code).toBe(EXIT.OK);
  });

  it('exits 75 with one clear line once the SDK retries are exhausted', async () => {
    stubLocalAws();
    vi.stubEnv('AWS_MAX_ATTEMPTS', '2');
    throttleNext = 10;
    const captured = captureOutput();
    const code = await main(['status', '--instance', 'local-db'], {}, { output: captured.output });
    expect(requests).toHaveLength(2);
    expect(code).toBe(EXIT.TEMPFAIL);
    expect(captured.err).toEqual([
      'rds: AWS throttled the request (2 attempts) (Throttling); wait a minute and run it again, or raise AWS_MAX_ATTEMPTS',
    ]);
  });
});
