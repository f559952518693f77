// What a cold Lambda container does before its first statement: load the function (index.ts builds the handler
// from the environment, which picks the region's CAs) and make the TLS context its first connection uses.
// `--default-store`: the context the template used to get, Node's store plus NODE_EXTRA_CA_CERTS.
// It reports from inside (time since the process started, its CPU time, and the parts), because a busy
// machine stretches the wall time of a spawn far more than the work itself.
import { createSecureContext } from 'node:tls';

async function main(): Promise<void> {
  const entered = performance.now();
  const { handler } = await import('../lambdas/post-confirmation/index');
  const { rdsCertificateAuthorities } = await import('../lambdas/postgres/rds-ca');
  const { verifiedTls } = await import('../lambdas/postgres/tls');
  void handler;
  const loaded = performance.now();
  // The handler has already picked its region's CAs (and cached them): pick another region's to time the choice.
  rdsCertificateAuthorities({ region: 'eu-central-1' });
  const selected = performance.now();
  if (process.argv.includes('--default-store')) createSecureContext({});
  else createSecureContext({ ca: verifiedTls(process.env.DB_HOST ?? '', { region: process.env.AWS_REGION ?? '' }).ca });
  const done = performance.now();
  const cpu = process.cpuUsage();
  process.stdout.write(
    JSON.stringify({
      wallMs: done - (selected - loaded),
      cpuMs: (cpu.user + cpu.system) / 1000,
      loadMs: loaded - entered,
      selectMs: selected - loaded,
      contextMs: done - selected,
    }),
  );
}

void main();
