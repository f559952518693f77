import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { NO_BUNDLING, synthApp, type Resource, type SynthesizedStage } from '../support/cdk';

/** An ARN of this account and region, as the network template spells it. */
function arnOf(service: string, rest: string): unknown {
  return {
    'Fn::Join': [
      '',
      ['arn:', { Ref: 'AWS::Partition' }, `:${service}:`, { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, rest],
    ],
  };
}

function endpointStatements(synth: SynthesizedStage, service: string): unknown[] {
  const endpoint = (Object.values(synth.network.findResources('AWS::EC2::VPCEndpoint')) as Resource[]).find(
    (resource) => JSON.stringify(resource.Properties.ServiceName).includes(`.${service}"`),
  )!;
  return (endpoint.Properties.PolicyDocument as { Statement: unknown[] }).Statement;
}

describe.each(['dev', 'prod'])('NetworkStack (%s)', (stage) => {
  let synth: SynthesizedStage;
  beforeAll(() => {
    synth = synthApp({ stage, ...NO_BUNDLING });
  });

  it('spans two availability zones with isolated subnets only and no NAT gateway or internet gateway', () => {
    const { network } = synth;
    network.resourceCountIs('AWS::EC2::Subnet', 2);
    network.resourceCountIs('AWS::EC2::NatGateway', 0);
    network.resourceCountIs('AWS::EC2::InternetGateway', 0);
    for (const subnet of Object.values(network.findResources('AWS::EC2::Subnet')) as Resource[]) {
      expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
    }
    expect(synth.stacks.network.vpc.availabilityZones).toHaveLength(2);
  });

  it('has private-DNS interface endpoints for Secrets Manager and SQS, closed unless a consumer opens them', () => {
    const { network } = synth;
    for (const service of ['secretsmanager', 'sqs']) {
      network.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Interface',
        PrivateDnsEnabled: true,
        ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([`.${service}`])]) }),
      });
    }
    // open: false — no ingress from the VPC CIDR on the endpoints' security groups.
    for (const group of Object.values(network.findResources('AWS::EC2::SecurityGroup')) as Resource[]) {
      expect(group.Properties.SecurityGroupIngress ?? []).toEqual([]);
    }
    network.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
  });

  it('has exactly the Secrets Manager and SQS endpoints: nothing in the VPC calls Cognito', () => {
    const services = (Object.values(synth.network.findResources('AWS::EC2::VPCEndpoint')) as Resource[]).map(
      (endpoint) => JSON.stringify(endpoint.Properties.ServiceName).replace(/^.*\.([a-z-]+)"\]\]\}$/, '$1'),
    );
    expect(services.sort()).toEqual(['secretsmanager', 'sqs']);
    for (const template of [synth.database, synth.auth]) template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
  });

  it("lets only this stack's master secret through the Secrets Manager endpoint, in this account", () => {
    const secretId = Object.keys(synth.database.findResources('AWS::SecretsManager::Secret'))[0]!;
    const statements = endpointStatements(synth, 'secretsmanager');
    expect(statements).toEqual([
      {
        Sid: 'TheMasterSecretOnly',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: [
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue',
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecretVersionStage',
        ],
        Resource: arnOf('secretsmanager', `:secret:${secretId}-*`),
        Condition: { StringEquals: { 'aws:ResourceAccount': { Ref: 'AWS::AccountId' } } },
      },
      {
        Sid: 'RotationGeneratesPasswords',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: 'secretsmanager:GetRandomPassword',
        Resource: '*',
      },
    ]);
  });

  it('lets only SendMessage to the sync queue through the SQS endpoint, in this account', () => {
    const queueId = Object.keys(synth.auth.findResources('AWS::SQS::Queue')).find((id) =>
      id.startsWith('SignupFallbackQueue'),
    )!;
    expect(endpointStatements(synth, 'sqs')).toEqual([
      {
        Sid: 'TheSyncQueueOnly',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: 'sqs:SendMessage',
        Resource: arnOf('sqs', `:${synth.stacks.auth.stackName}-${queueId}-*`),
        Condition: { StringEquals: { 'aws:ResourceAccount': { Ref: 'AWS::AccountId' } } },
      },
    ]);
  });

  it('references no other stack: the network stack is deployed first', () => {
    expect(JSON.stringify(synth.network.toJSON())).not.toContain('Fn::ImportValue');
    expect(synth.stacks.network.dependencies).toEqual([]);
  });

  it('logs rejected traffic with flow logs', () => {
    synth.network.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT' });
  });
});

describe('NetworkStack with -c endpointAzs=1 (dev)', () => {
  it('puts the Secrets Manager and SQS endpoints in the first isolated subnet only, and keeps both AZs for the rest', () => {
    const synth = synthApp({ stage: 'dev', endpointAzs: '1', ...NO_BUNDLING });
    const { network } = synth;
    network.resourceCountIs('AWS::EC2::Subnet', 2);
    const firstSubnet = Object.keys(network.findResources('AWS::EC2::Subnet')).find((id) =>
      id.startsWith('VpcisolatedSubnet1'),
    )!;
    const endpoints = Object.values(network.findResources('AWS::EC2::VPCEndpoint')) as Resource[];
    expect(endpoints).toHaveLength(2);
    for (const endpoint of endpoints) expect(endpoint.Properties.SubnetIds).toEqual([{ Ref: firstSubnet }]);
  });

  it('keeps the endpoints in both AZs without the option', () => {
    const { network } = synthApp({ stage: 'dev', ...NO_BUNDLING });
    for (const endpoint of Object.values(network.findResources('AWS::EC2::VPCEndpoint')) as Resource[]) {
      expect(endpoint.Properties.SubnetIds).toHaveLength(2);
    }
  });

  it('is refused for prod, naming the key', () => {
    expect(() => synthApp({ stage: 'prod', endpointAzs: '1', ...NO_BUNDLING })).toThrow(
      /context endpointAzs is 1 in dev only/,
    );
  });
});

describe('NetworkStack with a publicly accessible dev database', () => {
  it('adds public subnets behind an internet gateway but still no NAT gateway', () => {
    const { network } = synthApp({ stage: 'dev', adminCidr: '203.0.113.7/32', publicAccess: 'true' });
    network.resourceCountIs('AWS::EC2::Subnet', 4);
    network.resourceCountIs('AWS::EC2::InternetGateway', 1);
    network.resourceCountIs('AWS::EC2::NatGateway', 0);
  });
});
