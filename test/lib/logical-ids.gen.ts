// Writes test/lib/fixtures/logical-ids.json, the baseline logical-ids.test.ts compares every synth with:
// `npx tsx test/lib/logical-ids.gen.ts`. Regenerate only from a commit whose templates are deployed (the
// baseline is what CloudFormation knows), never to make a failing comparison pass.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTEXTS, contextKey, logicalIdsOf, type LogicalIds } from './logical-ids';

const baseline: Record<string, LogicalIds> = {};
for (const context of CONTEXTS) baseline[contextKey(context)] = logicalIdsOf(context);
writeFileSync(join(__dirname, 'fixtures', 'logical-ids.json'), `${JSON.stringify(baseline, null, 2)}\n`);
