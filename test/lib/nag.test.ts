import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { synthApp } from '../support/cdk';

// Each case synthesizes and bundles the whole app: seconds each on a busy machine.
describe('cdk-nag (AwsSolutionsChecks) on every synth', { timeout: 120_000 }, () => {
  const contexts: Record<string, string>[] = [
    { stage: 'dev' },
    { stage: 'prod' },
    { stage: 'dev', proxy: 'true' },
    { stage: 'prod', proxy: 'true' },
    { stage: 'dev', adminCidr: '203.0.113.7/32', publicAccess: 'true' },
    { stage: 'dev', alarmEmail: 'ops@example.com', allowedRegions: 'eu-west-1' },
    { stage: 'prod', alarmEmail: 'ops@example.com', allowedRegions: 'eu-west-1,eu-central-1' },
    { stage: 'dev', existingTrail: 'true' },
    { stage: 'prod', existingTrail: 'true' },
    { stage: 'dev', erasure: 'anonymize' },
    { stage: 'prod', erasure: 'anonymize', proxy: 'true', reconcileSchedule: 'cron(0 3 * * ? *)' },
    { stage: 'dev', operatorAccess: 'true' },
    { stage: 'prod', operatorAccess: 'true' },
    { stage: 'dev', endpointAzs: '1' },
    { stage: 'dev', operatorAccess: 'true', endpointAzs: '1', proxy: 'true' },
    // Federation: Google on dev; OIDC with linking (PreSignUp outside the VPC, HandleCheck inside) on prod.
    {
      stage: 'dev',
      domainPrefix: 'cruddur-dev-example',
      callbackUrls: 'https://app.example.org/cb',
      identityProviders: JSON.stringify([
        { type: 'google', clientId: '1234-abc.apps.googleusercontent.com', clientSecretName: 'cruddur/dev/google' },
      ]),
    },
    {
      stage: 'prod',
      domainPrefix: 'cruddur-prod-example',
      callbackUrls: 'https://app.example.org/cb',
      logoutUrls: 'https://app.example.org/',
      linkFederatedByEmail: 'true',
      identityProviders: JSON.stringify([
        {
          type: 'oidc',
          name: 'Okta',
          issuer: 'https://example.okta.com',
          clientId: '0oa1b2c3',
          clientSecretName: 'cruddur/prod/okta',
        },
      ]),
    },
  ];
  for (const context of contexts) {
    it(`reports no unacknowledged finding for ${JSON.stringify(context)}`, () => {
      const { findings } = synthApp(context);
      expect(findings).toEqual([]);
    });
  }

  it('reports a finding nobody acknowledged, so a clean result means something', () => {
    const { findings } = synthApp({ stage: 'dev' }, ({ database }) => {
      new s3.Bucket(database, 'UnreviewedBucket');
    });
    expect(findings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ plugin: 'AwsSolutions', rule: 'AwsSolutions-S1', severity: 'error' }),
      ]),
    );
  });
});
