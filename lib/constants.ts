// Facts about the platform that more than one construct states: named once here so they cannot drift apart.

/** RDS PostgreSQL and RDS Proxy both listen on PostgreSQL's default port. */
export const POSTGRES_PORT = 5432;

/** The interface VPC endpoints (Secrets Manager, SQS) answer on HTTPS only. */
export const HTTPS_PORT = 443;

/** The memory a project function gets unless it says otherwise (MB): the benchmark sizes its heap from it. */
export const FUNCTION_MEMORY_MB = 256;
