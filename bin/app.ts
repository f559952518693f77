#!/usr/bin/env -S npx tsx
// The CDK app: `npx cdk synth|deploy [-c stage=dev|prod] [-c adminCidr=...] [-c publicAccess=true] [-c proxy=true]
// [-c alarmEmail=ops@example.com] [-c allowedRegions=eu-west-1,eu-central-1] [-c existingTrail=true]
// [-c erasure=delete|anonymize] [-c reconcileSchedule='rate(1 day)'] [-c reconcileRate=5] [-c reconcilePrune=true]
// [-c operatorAccess=true] [-c endpointAzs=1]`.
import { App, Aspects, Tags, Validations, type Environment } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AlertsStack } from '../lib/alerts-stack';
import { AuthStack } from '../lib/auth-stack';
import { AllowedRegions } from '../lib/constructs/residency';
import { DatabaseStack, SIGNUP_WRITER } from '../lib/database-stack';
import { NetworkStack } from '../lib/network-stack';
import { StageConfigError, stageSettings } from '../lib/stage';

const CROSS_STACK_REFERENCES = '@aws-cdk/core:defaultCrossStackReferences';
// Without it, the operator host's IMDSv2 launch template is named "InstanceLaunchTemplate" in every stack,
// and dev and prod with operatorAccess in one account and region would collide on the name.
const UNIQUE_IMDSV2_TEMPLATE_NAME = '@aws-cdk/aws-ec2:uniqueImdsv2TemplateName';

export interface CruddurApp {
  readonly app: App;
  readonly alerts: AlertsStack;
  readonly network: NetworkStack;
  readonly database: DatabaseStack;
  readonly auth: AuthStack;
}

/** Builds every stack of one stage; tests call this with their own context. */
export function createApp(app: App = new App()): CruddurApp {
  // Cross-stack references stay strong: a producer cannot drop an export a consumer still uses.
  if (app.node.tryGetContext(CROSS_STACK_REFERENCES) === undefined)
    app.node.setContext(CROSS_STACK_REFERENCES, 'strong');
  if (app.node.tryGetContext(UNIQUE_IMDSV2_TEMPLATE_NAME) === undefined)
    app.node.setContext(UNIQUE_IMDSV2_TEMPLATE_NAME, true);
  const settings = stageSettings((key) => app.node.tryGetContext(key));
  const prefix = `Cruddur-${settings.stage}`;
  // Environment-agnostic on purpose: the same template from CI (no credentials) and from ops, deployed to the
  // account and region of the deployer's credentials; the VPC takes the region's first two AZs (Fn::GetAZs).
  const env: Environment | undefined = undefined;

  const alerts = new AlertsStack(app, `${prefix}-Alerts`, { env, settings });
  const network = new NetworkStack(app, `${prefix}-Network`, {
    env,
    publicSubnets: settings.publicAccess,
    endpointAzs: settings.endpointAzs,
  });
  const database = new DatabaseStack(app, `${prefix}-Database`, {
    env,
    settings,
    vpc: network.vpc,
    secretsManagerEndpoint: network.secretsManagerEndpoint,
    alerts: alerts.alerts,
    endpointSubnets: network.endpointSubnets,
  });
  const auth = new AuthStack(app, `${prefix}-Auth`, {
    env,
    settings,
    vpc: network.vpc,
    database,
    databaseUser: SIGNUP_WRITER,
    sqsEndpoint: network.sqsEndpoint,
    alarmAction: alerts.alerts.alarmAction,
  });
  // Added here, where all three stacks exist: the endpoints name the secret and the queue by pattern (see
  // NetworkStack.endpointTargets), so the network stack still depends on neither.
  // The generated secret itself (the instance's `Secret` child), not its attachment.
  network.restrictEndpoints(network.endpointTargets(database.db.node.findChild('Secret'), auth.syncQueue.queue));

  Tags.of(app).add('project', 'cruddur-signup-sync');
  Tags.of(app).add('stage', settings.stage);
  // Every stack, the ones added after this line included: an aspect runs at synth time.
  Aspects.of(app).add(new AllowedRegions(settings.allowedRegions));
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, alerts, network, database, auth };
}

/**
 * `cdk synth` runs this file. A bad stage option is the operator's to fix: one line naming it, exit 1, no
 * stack trace. aws-cdk-lib announces every asset it bundles on stderr ("Bundling asset <path>...") with no
 * switch to turn it off; those lines alone are dropped, so that a successful `cdk synth -q` stays quiet.
 */
export function runApp(stderr: NodeJS.WriteStream = process.stderr): number {
  const write = stderr.write.bind(stderr);
  const quiet = ((chunk: unknown, ...rest: unknown[]) =>
    typeof chunk === 'string' && /^Bundling asset \S+\.\.\.\n$/.test(chunk)
      ? true
      : (write as (chunk: unknown, ...rest: unknown[]) => boolean)(chunk, ...rest)) as typeof stderr.write;
  stderr.write = quiet;
  try {
    createApp().app.synth();
    return 0;
  } catch (error) {
    if (!(error instanceof StageConfigError)) throw error;
    write(`cdk synth: ${error.message}; fix -c ${error.option}=... or leave it out for the stage's default\n`);
    return 1;
  } finally {
    stderr.write = write;
  }
}

if (require.main === module) {
  process.exitCode = runApp();
}
