// Facts about the platform that more than one construct states: named once here so they cannot drift apart.

/** RDS PostgreSQL and RDS Proxy both listen on PostgreSQL's default port. */
export const POSTGRES_PORT = 5432;

/** The interface VPC endpoints (Secrets Manager, SQS) answer on HTTPS only. */
export const HTTPS_PORT = 443;

/**
 * The Amazon CA bundle the Lambda Node.js runtimes ship, RDS CAs included. Node.js 20 and later do not load it
 * by default: a function that verifies a database certificate names it in NODE_EXTRA_CA_CERTS.
 */
export const LAMBDA_CA_BUNDLE = '/var/runtime/ca-cert.pem';
