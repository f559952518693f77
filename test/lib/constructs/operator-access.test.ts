import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { NO_BUNDLING, synthApp, type Resource, type SynthesizedStage } from '../../support/cdk';

const SESSION_MANAGER = ['ssm', 'ssmmessages', 'ec2messages'];

function only(resources: Record<string, unknown>): [string, Resource] {
  const entries = Object.entries(resources) as [string, Resource][];
  expect(entries).toHaveLength(1);
  return entries[0]!;
}

function serviceOf(endpoint: Resource): string {
  return JSON.stringify(endpoint.Properties.ServiceName).replace(/^.*\.([a-z0-9-]+)"\]\]\}$/, '$1');
}

describe.each(['dev', 'prod'])('OperatorAccess (%s, -c operatorAccess=true)', (stage) => {
  let synth: SynthesizedStage;
  let hostGroupId: string;
  beforeAll(() => {
    synth = synthApp({ stage, operatorAccess: 'true', ...NO_BUNDLING });
    [hostGroupId] = only(
      synth.database.findResources('AWS::EC2::SecurityGroup', {
        Properties: { GroupDescription: Match.stringLikeRegexp('^Operator host') },
      }),
    );
  });

  it('runs a t4g.nano on ARM64 Amazon Linux 2023 with IMDSv2, an encrypted volume, no key pair and no public address', () => {
    const [, instance] = only(synth.database.findResources('AWS::EC2::Instance'));
    const props = instance.Properties;
    expect(props.InstanceType).toBe('t4g.nano');
    expect(props.KeyName).toBeUndefined();
    expect(JSON.stringify(props.ImageId)).toMatch(/al2023amikernel.*arm64/);
    expect(props.BlockDeviceMappings).toEqual([
      expect.objectContaining({ Ebs: expect.objectContaining({ Encrypted: true }) as unknown }),
    ]);
    // One network interface, in an isolated subnet, with no public address and the host's group only.
    expect(props.NetworkInterfaces).toEqual([
      expect.objectContaining({
        AssociatePublicIpAddress: false,
        GroupSet: [{ 'Fn::GetAtt': [hostGroupId, 'GroupId'] }],
        SubnetId: { 'Fn::ImportValue': expect.stringMatching(/isolatedSubnet/) as unknown },
      }),
    ]);
    const [, template] = only(synth.database.findResources('AWS::EC2::LaunchTemplate'));
    expect(template.Properties.LaunchTemplateData).toMatchObject({ MetadataOptions: { HttpTokens: 'required' } });
    // Named after the construct path, so dev and prod can share an account and region.
    expect(template.Properties.LaunchTemplateName).toMatch(new RegExp(`^Cruddur${stage}Database`));
  });

  it('gives the host a role with AmazonSSMManagedInstanceCore and nothing else', () => {
    const roles = Object.values(synth.database.findResources('AWS::IAM::Role')) as Resource[];
    const hostRole = roles.find((role) =>
      JSON.stringify(role.Properties.AssumeRolePolicyDocument).includes('ec2.amazonaws.com'),
    )!;
    expect(JSON.stringify(hostRole.Properties.ManagedPolicyArns)).toMatch(/AmazonSSMManagedInstanceCore/);
    expect(hostRole.Properties.ManagedPolicyArns).toHaveLength(1);
    expect(hostRole.Properties.Policies).toBeUndefined();
    const [roleId] = Object.entries(synth.database.findResources('AWS::IAM::Role')).find(
      ([, role]) => role === hostRole,
    )!;
    expect(JSON.stringify(synth.database.findResources('AWS::IAM::Policy'))).not.toContain(`"${roleId}"`);
  });

  it('admits nothing in to the host, and lets it out only to the endpoints on 443 and the database', () => {
    const [, group] = only(
      synth.database.findResources('AWS::EC2::SecurityGroup', {
        Properties: { GroupDescription: Match.stringLikeRegexp('^Operator host') },
      }),
    );
    expect(group.Properties.SecurityGroupIngress).toBeUndefined();
    const ingressToHost = (
      Object.values(synth.database.findResources('AWS::EC2::SecurityGroupIngress')) as Resource[]
    ).filter((rule) => JSON.stringify(rule.Properties.GroupId).includes(hostGroupId));
    expect(ingressToHost).toEqual([]);
    const egress = [
      ...((group.Properties.SecurityGroupEgress as Record<string, unknown>[] | undefined) ?? []),
      ...(Object.values(synth.database.findResources('AWS::EC2::SecurityGroupEgress')) as Resource[])
        .filter((rule) => JSON.stringify(rule.Properties.GroupId).includes(hostGroupId))
        .map((rule) => rule.Properties),
    ];
    expect(egress.map((rule) => rule.CidrIp)).not.toContain('0.0.0.0/0');
    const destinations = egress.map((rule) => JSON.stringify(rule.DestinationSecurityGroupId));
    expect(destinations).toHaveLength(2);
    expect(destinations).toEqual(
      expect.arrayContaining([
        expect.stringContaining('OperatorAccessEndpointSecurityGroup'),
        expect.stringContaining('DatabaseSecurityGroup'),
      ]),
    );
  });

  it("opens 5432 on the database to the host's security group only, never to an address range", () => {
    const fromHost = (
      Object.values(synth.database.findResources('AWS::EC2::SecurityGroupIngress')) as Resource[]
    ).filter((rule) => JSON.stringify(rule.Properties.SourceSecurityGroupId).includes(hostGroupId));
    const toDatabase = fromHost.filter((rule) =>
      JSON.stringify(rule.Properties.GroupId).includes('DatabaseSecurityGroup'),
    );
    expect(toDatabase).toHaveLength(1);
    expect(toDatabase[0]!.Properties).toMatchObject({
      IpProtocol: 'tcp',
      FromPort: { 'Fn::GetAtt': [expect.stringMatching(/^Database/), 'Endpoint.Port'] },
    });
    expect(toDatabase[0]!.Properties.CidrIp).toBeUndefined();
  });

  it('has the three Session Manager endpoints, private DNS, behind a group admitting 443 from the host only', () => {
    const endpoints = Object.values(synth.database.findResources('AWS::EC2::VPCEndpoint')) as Resource[];
    expect(endpoints.map(serviceOf).sort()).toEqual([...SESSION_MANAGER].sort());
    const [endpointGroupId, endpointGroup] = only(
      synth.database.findResources('AWS::EC2::SecurityGroup', {
        Properties: { GroupDescription: Match.stringLikeRegexp('^Session Manager endpoints') },
      }),
    );
    for (const endpoint of endpoints) {
      expect(endpoint.Properties).toMatchObject({ VpcEndpointType: 'Interface', PrivateDnsEnabled: true });
      expect(endpoint.Properties.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [endpointGroupId, 'GroupId'] }]);
      expect(endpoint.Properties.SubnetIds).toHaveLength(2);
    }
    expect(endpointGroup.Properties.SecurityGroupIngress).toBeUndefined();
    const ingress = (
      Object.values(synth.database.findResources('AWS::EC2::SecurityGroupIngress')) as Resource[]
    ).filter((rule) => JSON.stringify(rule.Properties.GroupId).includes(endpointGroupId));
    expect(ingress.map((rule) => rule.Properties)).toEqual([
      expect.objectContaining({
        FromPort: 443,
        ToPort: 443,
        SourceSecurityGroupId: { 'Fn::GetAtt': [hostGroupId, 'GroupId'] },
      }),
    ]);
  });

  it('outputs OperatorInstanceId from the Database stack, where the tunnel command reads it', () => {
    const [instanceId] = only(synth.database.findResources('AWS::EC2::Instance'));
    synth.database.hasOutput('OperatorInstanceId', { Value: { Ref: instanceId } });
  });
});

describe.each(['dev', 'prod'])('without operatorAccess (%s)', (stage) => {
  it('has no host, no Session Manager endpoint, no rule for it and no OperatorInstanceId output', () => {
    const synth = synthApp({ stage, ...NO_BUNDLING });
    for (const template of [synth.network, synth.database, synth.auth]) {
      template.resourceCountIs('AWS::EC2::Instance', 0);
      template.resourceCountIs('AWS::EC2::LaunchTemplate', 0);
      const services = (Object.values(template.findResources('AWS::EC2::VPCEndpoint')) as Resource[]).map(serviceOf);
      for (const service of SESSION_MANAGER) expect(services).not.toContain(service);
    }
    expect(JSON.stringify(synth.database.toJSON())).not.toMatch(/OperatorAccess|operator host/);
    expect(Object.keys(synth.database.findOutputs('*'))).not.toContain('OperatorInstanceId');
  });
});

describe('-c endpointAzs=1 (dev)', () => {
  it('puts every interface endpoint of the app, the Session Manager ones included, in one isolated subnet', () => {
    const synth = synthApp({ stage: 'dev', operatorAccess: 'true', endpointAzs: '1', ...NO_BUNDLING });
    const endpoints = [synth.network, synth.database, synth.auth].flatMap(
      (template) => Object.values(template.findResources('AWS::EC2::VPCEndpoint')) as Resource[],
    );
    // No Cognito endpoint: nothing in the VPC talks to Cognito (a pool with a domain refuses PrivateLink).
    expect(endpoints.map(serviceOf).sort()).toEqual(['ec2messages', 'secretsmanager', 'sqs', 'ssm', 'ssmmessages']);
    const subnets = new Set<string>();
    for (const endpoint of endpoints) {
      const ids = endpoint.Properties.SubnetIds as unknown[];
      expect(ids).toHaveLength(1);
      // In the network stack a Ref, elsewhere an import of the same subnet's export.
      subnets.add(/VpcisolatedSubnet\dSubnet[0-9A-F]{8}/.exec(JSON.stringify(ids[0]))?.[0] ?? JSON.stringify(ids[0]));
    }
    expect([...subnets]).toEqual([expect.stringMatching(/^VpcisolatedSubnet1Subnet/)]);
  });
});
