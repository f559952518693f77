// The VPC: two AZs, private isolated subnets for the database and the functions, no NAT gateway, and
// interface endpoints for the AWS APIs the functions in it call (Secrets Manager, SQS), each with a policy that
// admits only this project's own resources through it. No Cognito endpoint: nothing in the VPC calls Cognito
// (a pool with a domain cannot be reached through one), the functions that do run outside it.
import { ArnFormat, CfnResource, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct, IConstruct } from 'constructs';

export interface NetworkStackProps extends StackProps {
  /**
   * Adds public subnets (an internet gateway, still no NAT) for a dev database that is publicly accessible.
   * @default false
   */
  readonly publicSubnets?: boolean;
  /**
   * How many AZs' isolated subnets carry the interface endpoints. One costs half, but an outage of that AZ
   * cuts the functions in the other AZ off from SQS and Secrets Manager: a sign-up then fails instead of being
   * queued. Dev only (lib/stage.ts refuses it for prod).
   * @default 2
   */
  readonly endpointAzs?: number;
}

/** The secret and queue the endpoints admit: ARN patterns of resources of later stacks (`endpointTargets`). */
export interface EndpointTargets {
  /** The database's master secret, read by the migration function and rotated through the endpoint. */
  readonly secretArn: string;
  /** The sync queue, which the post-confirmation function sends to. */
  readonly queueArn: string;
}

/** What the rotation function (a single-user RDS rotation) and the migration function call on the secret. */
export const SECRET_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecretVersionStage',
] as const;

export class NetworkStack extends Stack {
  public readonly vpc: ec2.Vpc;
  /** Secrets Manager: the migration function and the master secret's rotation function. */
  public readonly secretsManagerEndpoint: ec2.InterfaceVpcEndpoint;
  /** SQS: the sync queue, for the post-confirmation function's fallback sends. */
  public readonly sqsEndpoint: ec2.InterfaceVpcEndpoint;
  /** Where every interface endpoint of the app goes (`endpointAzs`). */
  public readonly endpointSubnets: ec2.SubnetSelection;

  constructor(scope: Construct, id: string, props: NetworkStackProps = {}) {
    super(scope, id, props);

    const subnetConfiguration: ec2.SubnetConfiguration[] = [
      { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
    ];
    if (props.publicSubnets)
      subnetConfiguration.push({ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 });

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.20.0.0/16'),
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration,
      // Rejected traffic is what a reviewer asks for after an incident; accepted traffic is noise.
      flowLogs: { rejected: { trafficType: ec2.FlowLogTrafficType.REJECT } },
      restrictDefaultSecurityGroup: true,
    });

    const endpointAzs = props.endpointAzs ?? 2;
    if (endpointAzs !== 1 && endpointAzs !== 2) throw new Error(`endpointAzs must be 1 or 2, got ${endpointAzs}`);
    this.endpointSubnets =
      endpointAzs === 1
        ? { subnets: this.vpc.isolatedSubnets.slice(0, 1) }
        : { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };

    // Closed by default: each consumer opens 443 from its own security group (`allowTo(endpoint, 443)`).
    const endpoint = (id: string, service: ec2.InterfaceVpcEndpointAwsService) =>
      this.vpc.addInterfaceEndpoint(id, {
        service,
        privateDnsEnabled: true,
        open: false,
        subnets: this.endpointSubnets,
      });
    this.secretsManagerEndpoint = endpoint(
      'SecretsManagerEndpoint',
      ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    );
    this.sqsEndpoint = endpoint('SqsEndpoint', ec2.InterfaceVpcEndpointAwsService.SQS);
  }

  /**
   * Endpoint policies that admit only `targets`, in this account: a function in the VPC, or a stolen
   * credential used from it, cannot read another secret or send data to any other queue, another account's
   * included. Call once, from bin/app.ts, after the stacks that own the secret and the queue exist.
   */
  restrictEndpoints(targets: EndpointTargets): void {
    const inThisAccount = { StringEquals: { 'aws:ResourceAccount': this.account } };
    this.secretsManagerEndpoint.addToPolicy(
      new iam.PolicyStatement({
        sid: 'TheMasterSecretOnly',
        principals: [new iam.AnyPrincipal()],
        actions: [...SECRET_ACTIONS],
        resources: [targets.secretArn],
        conditions: inThisAccount,
      }),
    );
    // The rotation function generates the new password; the action has no resource to scope it to.
    this.secretsManagerEndpoint.addToPolicy(
      new iam.PolicyStatement({
        sid: 'RotationGeneratesPasswords',
        principals: [new iam.AnyPrincipal()],
        actions: ['secretsmanager:GetRandomPassword'],
        resources: ['*'],
      }),
    );
    this.sqsEndpoint.addToPolicy(
      new iam.PolicyStatement({
        sid: 'TheSyncQueueOnly',
        principals: [new iam.AnyPrincipal()],
        actions: ['sqs:SendMessage'],
        resources: [targets.queueArn],
        conditions: inThisAccount,
      }),
    );
  }

  /**
   * The endpoint policies live here, and the secret and the queue in stacks that depend on this one: a
   * reference to them would make this stack depend on those, a cycle. So the policies name them by the
   * physical name CloudFormation generates for an unnamed resource, in this account and region: a secret's
   * name is `<logical id>-<random>`, a queue's `<stack name>-<logical id>-<random>`. Naming them explicitly
   * instead would replace the existing secret and queue (with the sign-ups waiting in it).
   */
  endpointTargets(secret: IConstruct, queue: IConstruct): EndpointTargets {
    const secretLogicalId = logicalIdOf(secret);
    const queueStack = Stack.of(queue);
    return {
      secretArn: this.formatArn({
        service: 'secretsmanager',
        resource: 'secret',
        resourceName: `${secretLogicalId}-*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
      queueArn: this.formatArn({
        service: 'sqs',
        resource: `${queueStack.stackName}-${logicalIdOf(queue)}-*`,
        arnFormat: ArnFormat.NO_RESOURCE_NAME,
      }),
    };
  }
}

/** The final logical id of a construct's CloudFormation resource (overrides included), as a plain string. */
function logicalIdOf(construct: IConstruct): string {
  const resource = construct.node.defaultChild;
  if (!CfnResource.isCfnResource(resource)) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  const id: unknown = Stack.of(resource).resolve(resource.logicalId);
  if (typeof id !== 'string') throw new Error(`${construct.node.path}: its logical id did not resolve to a string`);
  return id;
}
