import { describe, expect, it } from 'vitest';
import { rdsCertificateAuthorities } from '../../../lambdas/postgres/rds-ca';
import { verifiedTls } from '../../../lambdas/postgres/tls';

describe('verifiedTls', () => {
  it('verifies the certificate against the RDS CAs of the region and checks the host name', () => {
    const tls = verifiedTls('db.example.internal', { region: 'eu-west-1' });
    expect(tls).toEqual({
      rejectUnauthorized: true,
      servername: 'db.example.internal',
      ca: [...rdsCertificateAuthorities({ region: 'eu-west-1' })],
    });
  });

  it('trusts exactly the CAs it is given, when given some', () => {
    expect(verifiedTls('db.example.internal', { ca: ['PEM'] }).ca).toEqual(['PEM']);
  });
});
