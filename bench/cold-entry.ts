// What a cold Lambda container does before its first statement: load the function (index.ts builds the handler
// from the environment, which picks the region's CAs) and make the TLS context its first connection uses.
// `--default-store`: the context the template used to get, Node's store plus NODE_EXTRA_CA_CERTS.
import { createSecureContext } from 'node:tls';
import { handler } from '../lambdas/post-confirmation/index';
import { verifiedTls } from '../lambdas/postgres/tls';

const host = process.env.DB_HOST ?? '';
void handler;
if (process.argv.includes('--default-store')) createSecureContext({});
else createSecureContext({ ca: verifiedTls(host, { region: process.env.AWS_REGION ?? '' }).ca });

// Measured from inside (time since the process started, and its CPU time), because a busy machine stretches
// the wall time of a spawn far more than the work itself.
const cpu = process.cpuUsage();
process.stdout.write(JSON.stringify({ wallMs: performance.now(), cpuMs: (cpu.user + cpu.system) / 1000 }));
