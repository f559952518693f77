import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../bin/app';
import { NO_BUNDLING } from '../support/cdk';

const root = join(__dirname, '..', '..');
// These tests look at names and settings only: NO_BUNDLING skips esbuild (the stack tests bundle for real).
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  devDependencies: Record<string, string>;
};

describe('createApp', () => {
  it('names the stacks Cruddur-<stage>-Network, -Database and -Auth, dev by default', () => {
    const { network, database, auth } = createApp(new App({ context: NO_BUNDLING }));
    expect([network.stackName, database.stackName, auth.stackName]).toEqual([
      'Cruddur-dev-Network',
      'Cruddur-dev-Database',
      'Cruddur-dev-Auth',
    ]);
  });

  it('builds the prod stacks from -c stage=prod, environment-agnostic', () => {
    const { network, auth } = createApp(new App({ context: { ...NO_BUNDLING, stage: 'prod' } }));
    expect(network.stackName).toBe('Cruddur-prod-Network');
    expect(auth.environment).toBe('aws://unknown-account/unknown-region');
  });

  it('refuses a bad context before building anything', () => {
    expect(() => createApp(new App({ context: { ...NO_BUNDLING, stage: 'prod', adminCidr: '0.0.0.0/0' } }))).toThrow(
      /adminCidr/,
    );
  });

  it('keeps cross-stack references strong unless the context says otherwise', () => {
    const { app } = createApp(new App({ context: NO_BUNDLING }));
    expect(app.node.tryGetContext('@aws-cdk/core:defaultCrossStackReferences')).toBe('strong');
  });
});

describe('the pinned CDK command line', () => {
  it('is an exact 2.x version of aws-cdk, which reads the cloud assemblies of aws-cdk-lib 2 (3.x cannot)', () => {
    expect(packageJson.devDependencies['aws-cdk']).toMatch(/^2\.\d+\.\d+$/);
    expect(packageJson.devDependencies['aws-cdk-lib']).toMatch(/^2\.\d+\.\d+$/);
    const installed = JSON.parse(readFileSync(join(root, 'node_modules', 'aws-cdk', 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(installed.version).toBe(packageJson.devDependencies['aws-cdk']);
  });
});

describe('the app as cdk synth runs it', () => {
  function synthWith(context: Record<string, unknown>) {
    const outdir = mkdtempSync(join(tmpdir(), 'cdk.out-app-'));
    try {
      return spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
        cwd: root,
        env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(context), CDK_OUTDIR: outdir },
        encoding: 'utf8',
        timeout: 60_000,
      });
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }

  it('fails a bad stage option with one line naming the option and the fix, and no stack trace', () => {
    const child = synthWith({ stage: 'prod', endpointAzs: '1' });
    expect(child.status).toBe(1);
    expect(child.stdout).toBe('');
    expect(child.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(
        /^cdk synth: context endpointAzs is 1 in dev only: .*; fix -c endpointAzs=\.\.\. or leave it out/,
      ),
    ]);
  });

  it('fails a malformed identity provider with one line naming the entry and its field, and no stack trace', () => {
    const child = synthWith({ stage: 'dev', identityProviders: '[{"type":"google","clientId":"x"}]' });
    expect(child.status).toBe(1);
    expect(child.stdout).toBe('');
    expect(child.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^cdk synth: context identityProviders\[0\]\.\S+ .*; fix -c identityProviders=/),
    ]);
  });
});
