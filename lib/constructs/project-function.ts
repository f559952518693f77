// The one way this project builds a Lambda function, so that every function is alike: the newest Node.js
// runtime the pinned aws-cdk-lib knows, ARM64, the shared esbuild options, an explicit log group with
// retention, the private isolated subnets of the VPC and a security group that opens nothing by default (or,
// for a function that calls nothing but public AWS APIs, no VPC at all).
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, type ICommandHooks } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { join } from 'node:path';
import { BUNDLING, rdsCaCommands } from '../bundling';
import { FUNCTION_MEMORY_MB } from '../constants';

/** The repository root: entries, the lockfile and `sql/` are found from here. */
export const PROJECT_ROOT = join(__dirname, '..', '..');

/** Keep in step with NODE_TARGET in lib/bundling.ts (checked by a test). */
export const RUNTIME = lambda.Runtime.NODEJS_24_X;

/**
 * A function another construct can wire to a resource: grant it access, open its security group, tell it
 * where the resource is. A ProjectFunction is one; the interface keeps the wiring constructs testable alone.
 */
export interface WirableFunction extends iam.IGrantable, ec2.IConnectable {
  addEnvironment(key: string, value: string): unknown;
}

export interface ProjectFunctionProps {
  /** Entry file, relative to the project root (`lambdas/post-confirmation/index.ts`). */
  readonly entry: string;
  readonly description: string;
  /**
   * The VPC whose isolated subnets the function runs in. Leave it out only for a function that calls nothing
   * but public AWS APIs (no database): outside the VPC it needs no interface endpoint, and AWS's own
   * authentication and TLS protect the calls. Such a function has no security group and is not IConnectable.
   * @default - outside any VPC
   */
  readonly vpc?: ec2.IVpc;
  /** @default Duration.seconds(5) */
  readonly timeout?: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  readonly environment?: Readonly<Record<string, string>>;
  readonly logRetention: logs.RetentionDays;
  /** @default RemovalPolicy.DESTROY (the log group goes with the function) */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** @default - no reserved concurrency */
  readonly reservedConcurrentExecutions?: number;
  /** Extra files for the bundle (migrations). */
  readonly commandHooks?: ICommandHooks;
}

export class ProjectFunction extends NodejsFunction implements WirableFunction {
  /** The function's own security group: no egress until a grant adds one. Undefined outside a VPC. */
  public readonly securityGroup: ec2.SecurityGroup | undefined;

  constructor(scope: Construct, id: string, props: ProjectFunctionProps) {
    const { vpc } = props;
    const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    const securityGroup =
      vpc === undefined
        ? undefined
        : new ec2.SecurityGroup(scope, `${id}SecurityGroup`, {
            vpc,
            description: `${id}: egress only to what it is granted`,
            allowAllOutbound: false,
          });
    // An own role instead of the AWS managed execution policies: logs only to this function's log group.
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description:
        vpc === undefined
          ? `${id}: its log group and what it is granted`
          : `${id}: its log group, its ENIs, and what it is granted`,
    });
    logGroup.grantWrite(role);
    const vpcAccess = vpc === undefined ? undefined : ProjectFunction.vpcAccess(scope, id, role);
    super(scope, id, {
      role,
      entry: join(PROJECT_ROOT, props.entry),
      handler: 'handler',
      description: props.description,
      runtime: RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? FUNCTION_MEMORY_MB,
      timeout: props.timeout ?? Duration.seconds(5),
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      bundling: {
        ...BUNDLING,
        externalModules: [...BUNDLING.externalModules],
        mainFields: [...BUNDLING.mainFields],
        commandHooks: ProjectFunction.commandHooks(vpc !== undefined, props.commandHooks),
        // Errors only: `cdk synth -q` prints nothing on success (esbuild's size summary and hints are not errors).
        logLevel: LogLevel.ERROR,
      },
      // No NODE_OPTIONS=--enable-source-maps: it costs ~13 ms of every cold start on Node 24 (bench/cold.ts: 45 ms
      // over a bare node with it, 32 ms without), and the logs carry no stack traces to map. The .map ships beside
      // the bundle, for mapping a stack by hand or for turning source maps on while debugging.
      environment: { ...props.environment },
      ...(vpc === undefined || securityGroup === undefined
        ? {}
        : {
            vpc,
            vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
            securityGroups: [securityGroup],
            allowPublicSubnet: false,
          }),
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      // X-Ray would need its own interface endpoint (no NAT) and adds little to one SQL statement.
      tracing: lambda.Tracing.DISABLED,
    });
    this.securityGroup = securityGroup;
    // Lambda checks the ENI permissions when it creates the function.
    if (vpcAccess !== undefined) this.node.addDependency(vpcAccess);
  }

  /**
   * A function in the VPC is one that reaches the database: its bundle gets the RDS CA files beside it
   * (lib/bundling.ts), after whatever the caller adds.
   */
  private static commandHooks(reachesDatabase: boolean, hooks: ICommandHooks | undefined): ICommandHooks | undefined {
    if (!reachesDatabase) return hooks;
    return {
      beforeBundling: (inputDir, outputDir) => hooks?.beforeBundling(inputDir, outputDir) ?? [],
      beforeInstall: (inputDir, outputDir) => hooks?.beforeInstall(inputDir, outputDir) ?? [],
      afterBundling: (inputDir, outputDir) => [
        ...(hooks?.afterBundling(inputDir, outputDir) ?? []),
        ...rdsCaCommands(inputDir, outputDir),
      ],
    };
  }

  /** The ENI permissions of a function in a VPC, as a policy of its own so the function can depend on it. */
  private static vpcAccess(scope: Construct, id: string, role: iam.IRole): iam.Policy {
    const vpcAccess = new iam.Policy(scope, `${id}VpcAccess`, {
      roles: [role],
      statements: [
        new iam.PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeSubnets',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: ['*'],
        }),
      ],
    });
    Validations.of(vpcAccess).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'The ENI actions Lambda needs to attach a function to a VPC (the AWSLambdaVPCAccessExecutionRole set) support no resource-level permissions.',
    });
    return vpcAccess;
  }
}
