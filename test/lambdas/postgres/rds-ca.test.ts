import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { rdsCaBundle, rdsCertificateAuthorities, UnknownRegionCaError } from '../../../lambdas/postgres/rds-ca';

const commonName = (pem: string) => /CN=([^\n]+)/.exec(new X509Certificate(pem).subject)?.[1];

describe('rdsCertificateAuthorities', () => {
  it("trusts the region's three current RDS roots and nothing else", () => {
    const names = rdsCertificateAuthorities({ region: 'eu-west-1' }).map(commonName).sort();
    expect(names).toEqual([
      'Amazon RDS eu-west-1 Root CA ECC384 G1',
      'Amazon RDS eu-west-1 Root CA RSA2048 G1',
      'Amazon RDS eu-west-1 Root CA RSA4096 G1',
    ]);
  });

  it('never takes the Beta roots of us-east-1 for the region', () => {
    const names = rdsCertificateAuthorities({ region: 'us-east-1' }).map(commonName);
    expect(names).toHaveLength(3);
    expect(names.every((name) => name?.startsWith('Amazon RDS us-east-1 Root CA '))).toBe(true);
  });

  it('adds the Amazon Trust Services roots when the endpoint is an RDS Proxy', () => {
    const names = rdsCertificateAuthorities({ region: 'eu-central-1', proxy: true }).map(commonName);
    expect(names).toHaveLength(8);
    expect(names).toEqual(
      expect.arrayContaining(['Amazon Root CA 1', 'Amazon Root CA 4', 'Amazon RDS eu-central-1 Root CA RSA2048 G1']),
    );
  });

  it('trusts the current roots of every region when no region is known, none expired', () => {
    const certificates = rdsCertificateAuthorities().map((pem) => new X509Certificate(pem));
    expect(certificates.length).toBeGreaterThanOrEqual(3 * 25);
    expect(certificates.every((certificate) => new Date(certificate.validTo).getFullYear() > 2060)).toBe(true);
    expect(certificates.some((certificate) => /Beta|Preview|2019/.test(certificate.subject))).toBe(false);
  });

  it('refuses a region the package holds no CA for, naming it', () => {
    expect(() => rdsCertificateAuthorities({ region: 'xx-nowhere-9' })).toThrow(UnknownRegionCaError);
    expect(() => rdsCertificateAuthorities({ region: 'not a region' })).toThrow(/no RDS certificate authority/);
  });

  it('writes the same authorities as one PEM bundle for psql', () => {
    const bundle = rdsCaBundle({ region: 'eu-west-1' });
    expect(bundle.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(3);
    expect(bundle.endsWith('-----END CERTIFICATE-----\n')).toBe(true);
  });
});
