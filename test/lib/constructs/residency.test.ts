import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Aspects, Stack, Token } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { ALLOWED_REGIONS_RULE, AllowedRegions } from '../../../lib/constructs/residency';
import { NO_BUNDLING, synthApp } from '../../support/cdk';

const EU = ['eu-west-1', 'eu-central-1'];
const regionRule = (regions: string[]) => ({
  Assertions: [
    {
      Assert: { 'Fn::Contains': [regions, { Ref: 'AWS::Region' }] },
      AssertDescription: `This stack holds or serves personal data and may be deployed only in ${regions.join(', ')} (context allowedRegions).`,
    },
  ],
});

function rulesOf(stack: Stack): Record<string, unknown> {
  return (Template.fromStack(stack).toJSON() as { Rules?: Record<string, unknown> }).Rules ?? {};
}

describe('AllowedRegions', () => {
  it('asserts in every stack that the region it deploys to is one of the list, stacks made after it included', () => {
    const app = new App();
    const first = new Stack(app, 'First');
    new sns.Topic(first, 'Topic');
    Aspects.of(app).add(new AllowedRegions(EU));
    const later = new Stack(app, 'Later');
    new sns.Topic(later, 'Topic');
    for (const stack of [first, later]) expect(rulesOf(stack)[ALLOWED_REGIONS_RULE]).toEqual(regionRule(EU));
  });

  it('adds nothing when the list is empty: any region', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    new sns.Topic(stack, 'Topic');
    Aspects.of(app).add(new AllowedRegions([]));
    expect(rulesOf(stack)).not.toHaveProperty(ALLOWED_REGIONS_RULE);
  });
});

function templatesOf(assemblyDir: string): Record<string, { Rules?: Record<string, unknown> }> {
  const templates: Record<string, { Rules?: Record<string, unknown> }> = {};
  for (const file of readdirSync(assemblyDir).filter((name) => name.endsWith('.template.json'))) {
    templates[file] = JSON.parse(readFileSync(join(assemblyDir, file), 'utf8')) as { Rules?: Record<string, unknown> };
  }
  return templates;
}

describe('the app with allowedRegions', { timeout: 120_000 }, () => {
  it('refuses every one of its stacks outside the list, and stays environment-agnostic', () => {
    const synth = synthApp({ ...NO_BUNDLING, stage: 'prod', allowedRegions: 'eu-west-1, eu-central-1' });
    const templates = templatesOf(synth.assemblyDir);
    expect(Object.keys(templates).length).toBeGreaterThanOrEqual(4);
    for (const [file, template] of Object.entries(templates))
      expect(template.Rules?.[ALLOWED_REGIONS_RULE], file).toEqual(regionRule(EU));
    for (const stack of [synth.stacks.alerts, synth.stacks.network, synth.stacks.database, synth.stacks.auth]) {
      expect(Token.isUnresolved(stack.region), stack.stackName).toBe(true);
      expect(Token.isUnresolved(stack.account), stack.stackName).toBe(true);
    }
  });

  it('adds no region rule without the option', () => {
    const synth = synthApp({ ...NO_BUNDLING, stage: 'prod' });
    for (const [file, template] of Object.entries(templatesOf(synth.assemblyDir))) {
      expect(template.Rules ?? {}, file).not.toHaveProperty(ALLOWED_REGIONS_RULE);
    }
  });
});
