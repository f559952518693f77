import { describe, expect, it } from 'vitest';
import { verifiedTls } from '../../../lambdas/postgres/tls';

describe('verifiedTls', () => {
  it('verifies the certificate and the host name', () => {
    expect(verifiedTls('db.example.internal')).toEqual({ rejectUnauthorized: true, servername: 'db.example.internal' });
  });
});
