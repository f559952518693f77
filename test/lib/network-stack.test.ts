import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { synthApp, type Resource, type SynthesizedStage } from '../support/cdk';

describe.each(['dev', 'prod'])('NetworkStack (%s)', (stage) => {
  let synth: SynthesizedStage;
  beforeAll(() => {
    synth = synthApp({ stage });
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

  it('logs rejected traffic with flow logs', () => {
    synth.network.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT' });
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
