// Synthesizes the whole CDK app for one stage, once, with cdk-nag on: the templates and the nag findings.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { createApp, type CruddurApp } from '../../bin/app';

/**
 * Context that skips esbuild: for tests that look at resources and settings only, not at a bundle (a
 * placeholder asset stands in for each function's code).
 */
export const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] as string[] };

/** The context cdk.json gives every `cdk synth` (the feature flags among it). */
export const CDK_JSON_CONTEXT = (
  JSON.parse(readFileSync(join(__dirname, '..', '..', 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }
).context;

/** An app with the context `cdk synth` gives it: cdk.json's, under the test's own (the test's keys win). */
export function cliApp(context: Record<string, unknown>): App {
  return new App({ context: { ...CDK_JSON_CONTEXT, ...context } });
}

export interface Finding {
  readonly plugin: string;
  readonly rule: string;
  readonly severity: string;
  readonly paths: string[];
}

export interface SynthesizedStage {
  readonly stacks: CruddurApp;
  readonly network: Template;
  readonly database: Template;
  readonly auth: Template;
  /** Unacknowledged findings of every validation plugin (cdk-nag's AwsSolutions, CloudFormation validate). */
  readonly findings: Finding[];
  readonly assemblyDir: string;
}

interface Report {
  pluginReports: {
    pluginName: string;
    violations: { ruleName: string; severity: string; violatingConstructs: { constructPath: string }[] }[];
  }[];
}

export function findingsOf(reportFile: string): Finding[] {
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;
  return report.pluginReports.flatMap((plugin) =>
    plugin.violations.map((violation) => ({
      plugin: plugin.pluginName,
      rule: violation.ruleName,
      severity: violation.severity,
      paths: violation.violatingConstructs.map((construct) => construct.constructPath),
    })),
  );
}

/**
 * Builds the app from bin/app.ts as `cdk synth` would (cliApp) and synthesizes it. A synth that fails
 * validation (nag errors) throws with the report's path; the findings are read from it so the test can name them.
 */
export function synthApp(context: Record<string, unknown>, extend?: (stacks: CruddurApp) => void): SynthesizedStage {
  const stacks = createApp(cliApp(context));
  extend?.(stacks);
  let assemblyDir: string;
  try {
    assemblyDir = stacks.app.synth().directory;
  } catch (error) {
    const reportFile = error instanceof Error ? /found in: (\S+)/.exec(error.message)?.[1] : undefined;
    if (reportFile === undefined) throw error;
    return unavailableTemplates({ stacks, findings: findingsOf(reportFile), assemblyDir: '' });
  }
  const template = (name: string) =>
    Template.fromJSON(
      JSON.parse(readFileSync(join(assemblyDir, `${name}.template.json`), 'utf8')) as Record<string, unknown>,
    );
  return {
    stacks,
    network: template(stacks.network.artifactId),
    database: template(stacks.database.artifactId),
    auth: template(stacks.auth.artifactId),
    findings: findingsOf(join(assemblyDir, 'validation-report.json')),
    assemblyDir,
  };
}

function unavailableTemplates(base: Omit<SynthesizedStage, 'network' | 'database' | 'auth'>): SynthesizedStage {
  const missing = {
    get: () => {
      throw new Error('synth failed validation: see findings');
    },
  };
  return Object.defineProperties(base, { network: missing, database: missing, auth: missing }) as SynthesizedStage;
}

/** A resource of a synthesized template, as the assertions' find* methods return it. */
export interface Resource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
  readonly DependsOn?: string[];
  readonly DeletionPolicy?: string;
}

/** The logical id of the database's own security group. */
export function databaseGroupId(synth: SynthesizedStage): string {
  const groups = synth.database.findResources('AWS::EC2::SecurityGroup', {
    Properties: { GroupDescription: Match.stringLikeRegexp('^PostgreSQL') },
  });
  return Object.keys(groups)[0]!;
}

/** Ingress rules on a security group of the database stack, wherever they live (GetAtt there, ImportValue in consumers). */
export function ingressRulesOf(synth: SynthesizedStage, groupLogicalId: string): Record<string, unknown>[] {
  const rules: Record<string, unknown>[] = [];
  for (const template of [synth.database, synth.auth]) {
    for (const rule of Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')) as Resource[]) {
      if (JSON.stringify(rule.Properties.GroupId).includes(groupLogicalId)) rules.push(rule.Properties);
    }
  }
  return rules;
}
