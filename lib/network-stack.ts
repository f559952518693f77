// The VPC: two AZs, private isolated subnets for the database and the functions, no NAT gateway, and
// interface endpoints for the AWS APIs the functions call.
import { Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';

export interface NetworkStackProps extends StackProps {
  /**
   * Adds public subnets (an internet gateway, still no NAT) for a dev database that is publicly accessible.
   * @default false
   */
  readonly publicSubnets?: boolean;
}

export class NetworkStack extends Stack {
  public readonly vpc: ec2.Vpc;
  /** Secrets Manager: the migration function and the master secret's rotation function. */
  public readonly secretsManagerEndpoint: ec2.InterfaceVpcEndpoint;
  /** SQS: the sign-up fallback queue. */
  public readonly sqsEndpoint: ec2.InterfaceVpcEndpoint;

  constructor(scope: Construct, id: string, props: NetworkStackProps = {}) {
    super(scope, id, props);

    const subnetConfiguration: ec2.SubnetConfiguration[] = [
      { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
    ];
    if (props.publicSubnets) subnetConfiguration.push({ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 });

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.20.0.0/16'),
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration,
      // Rejected traffic is what a reviewer asks for after an incident; accepted traffic is noise.
      flowLogs: { rejected: { trafficType: ec2.FlowLogTrafficType.REJECT } },
      restrictDefaultSecurityGroup: true,
    });

    // Closed by default: each consumer opens 443 from its own security group (`allowTo(endpoint, 443)`).
    const endpoint = (id: string, service: ec2.InterfaceVpcEndpointAwsService) =>
      this.vpc.addInterfaceEndpoint(id, {
        service,
        privateDnsEnabled: true,
        open: false,
        subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      });
    this.secretsManagerEndpoint = endpoint('SecretsManagerEndpoint', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER);
    this.sqsEndpoint = endpoint('SqsEndpoint', ec2.InterfaceVpcEndpointAwsService.SQS);
  }
}
