#!/usr/bin/env -S npx tsx
// The CDK app: `npx cdk synth|deploy [-c stage=dev|prod] [-c adminCidr=...] [-c publicAccess=true] [-c proxy=true]`.
import { App, Tags, Validations, type Environment } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AuthStack } from '../lib/auth-stack';
import { DatabaseStack, SIGNUP_WRITER } from '../lib/database-stack';
import { NetworkStack } from '../lib/network-stack';
import { stageSettings } from '../lib/stage';

const CROSS_STACK_REFERENCES = '@aws-cdk/core:defaultCrossStackReferences';

export interface CruddurApp {
  readonly app: App;
  readonly network: NetworkStack;
  readonly database: DatabaseStack;
  readonly auth: AuthStack;
}

/** Builds every stack of one stage; tests call this with their own context. */
export function createApp(app: App = new App()): CruddurApp {
  // Cross-stack references stay strong: a producer cannot drop an export a consumer still uses.
  if (app.node.tryGetContext(CROSS_STACK_REFERENCES) === undefined) app.node.setContext(CROSS_STACK_REFERENCES, 'strong');
  const settings = stageSettings((key) => app.node.tryGetContext(key));
  const prefix = `Cruddur-${settings.stage}`;
  // Environment-agnostic on purpose: the same template from CI (no credentials) and from ops, deployed to the
  // account and region of the deployer's credentials; the VPC takes the region's first two AZs (Fn::GetAZs).
  const env: Environment | undefined = undefined;

  const network = new NetworkStack(app, `${prefix}-Network`, { env, publicSubnets: settings.publicAccess });
  const database = new DatabaseStack(app, `${prefix}-Database`, {
    env,
    settings,
    vpc: network.vpc,
    secretsManagerEndpoint: network.secretsManagerEndpoint,
  });
  const auth = new AuthStack(app, `${prefix}-Auth`, {
    env,
    settings,
    vpc: network.vpc,
    database,
    databaseUser: SIGNUP_WRITER,
    sqsEndpoint: network.sqsEndpoint,
  });

  Tags.of(app).add('project', 'cruddur-signup-sync');
  Tags.of(app).add('stage', settings.stage);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, network, database, auth };
}

if (require.main === module) {
  createApp().app.synth();
}
