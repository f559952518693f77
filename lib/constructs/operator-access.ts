// The operator's way in to the private database (`-c operatorAccess=true`): a Session Manager host in an
// isolated subnet, the three endpoints Session Manager needs, and 5432 on the database from that host only.
// `npm run db -- tunnel` forwards a local port through it. No SSH, no key pair, no public address, no inbound rule.
import { Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { HTTPS_PORT } from '../constants';

/** What Session Manager's agent talks to: without a NAT these three are its only way out. */
export const SESSION_MANAGER_SERVICES = {
  SsmEndpoint: ec2.InterfaceVpcEndpointAwsService.SSM,
  SsmMessagesEndpoint: ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES,
  Ec2MessagesEndpoint: ec2.InterfaceVpcEndpointAwsService.EC2_MESSAGES,
} as const;

export interface OperatorAccessProps {
  readonly vpc: ec2.IVpc;
  /** The database (or its proxy): the host may reach its default port, nothing else may through this. */
  readonly database: ec2.IConnectable;
  /** Where the Session Manager endpoints go. @default every isolated subnet */
  readonly endpointSubnets?: ec2.SubnetSelection;
}

export class OperatorAccess extends Construct {
  public readonly instance: ec2.Instance;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly endpoints: readonly ec2.InterfaceVpcEndpoint[];

  constructor(scope: Construct, id: string, props: OperatorAccessProps) {
    super(scope, id);
    const { vpc } = props;

    // No ingress ever: a Session Manager session is opened by the agent, outbound, through the endpoints.
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: 'Operator host: no inbound; out to the Session Manager endpoints and the database only',
      allowAllOutbound: false,
    });

    this.instance = new ec2.Instance(this, 'Instance', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.NANO),
      // The SSM agent comes preinstalled on Amazon Linux 2023.
      machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 }),
      securityGroup: this.securityGroup,
      associatePublicIpAddress: false,
      requireImdsv2: true,
      // Adds AmazonSSMManagedInstanceCore to the instance role, and nothing else.
      ssmSessionPermissions: true,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(8, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3 }),
        },
      ],
    });

    const endpointGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc,
      description: 'Session Manager endpoints: 443 from the operator host only',
      allowAllOutbound: false,
    });
    this.endpoints = Object.entries(SESSION_MANAGER_SERVICES).map(
      ([endpointId, service]) =>
        new ec2.InterfaceVpcEndpoint(this, endpointId, {
          vpc,
          service,
          privateDnsEnabled: true,
          open: false,
          subnets: props.endpointSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
          securityGroups: [endpointGroup],
        }),
    );
    this.instance.connections.allowTo(
      endpointGroup,
      ec2.Port.tcp(HTTPS_PORT),
      'operator host to the Session Manager endpoints',
    );
    props.database.connections.allowDefaultPortFrom(this.instance, 'operator host (Session Manager port forwarding)');

    Validations.of(this.instance).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
        reason:
          'AmazonSSMManagedInstanceCore is the policy AWS maintains for the Session Manager agent, and the only one the role has.',
      },
      {
        id: 'AwsSolutions-EC28',
        reason:
          'A one-off operator host that only forwards a port: basic monitoring is enough, detailed monitoring would cost more than the instance.',
      },
      {
        id: 'AwsSolutions-EC29',
        reason:
          'Disposable and stateless: it is recreated from the template, and removed by deploying without operatorAccess.',
      },
    );
  }
}
