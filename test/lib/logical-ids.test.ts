import { describe, expect, it } from 'vitest';
import baseline from './fixtures/logical-ids.json';
import { CONTEXTS, contextKey, logicalIdsOf, lostIds, type LogicalIds } from './logical-ids';

/**
 * Logical ids removed on purpose, each with why: CloudFormation deletes these resources on the next deploy.
 * Everything else in the baseline must still be there with the same type.
 */
const RETIRED = new Set<string>([]);

const BASELINE = baseline as Record<string, LogicalIds>;

describe('logical ids of every synthesized stack', { timeout: 120_000 }, () => {
  for (const context of CONTEXTS) {
    it(`keeps every baseline id with its type for ${contextKey(context)}`, () => {
      const expected = BASELINE[contextKey(context)];
      expect(expected, 'no baseline for this context: run test/lib/logical-ids.gen.ts').toBeDefined();
      expect(lostIds(expected!, logicalIdsOf(context), RETIRED)).toEqual([]);
    });
  }
});

describe('lostIds', () => {
  const before: LogicalIds = { Auth: { QueueA: 'AWS::SQS::Queue', FunctionB: 'AWS::Lambda::Function' } };

  it('names an id that is gone, one whose type changed and a stack that is gone', () => {
    expect(lostIds(before, { Auth: { FunctionB: 'AWS::Lambda::Url' } }, new Set())).toEqual([
      'Auth QueueA: AWS::SQS::Queue -> absent',
      'Auth FunctionB: AWS::Lambda::Function -> AWS::Lambda::Url',
    ]);
    expect(lostIds(before, {}, new Set())).toHaveLength(2);
  });

  it('accepts added ids and ignores a retired one', () => {
    const after = { Auth: { FunctionB: 'AWS::Lambda::Function', Added: 'AWS::SNS::Topic' } };
    expect(lostIds(before, after, new Set(['QueueA']))).toEqual([]);
  });
});
