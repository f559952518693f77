// Data residency: with `-c allowedRegions=...`, every stack of the app carries a CloudFormation rule that
// refuses a create or update in any other region. A rule rather than a fixed `env`: the templates stay
// environment-agnostic (the deployer's credentials pick account and region), and the refusal happens in
// CloudFormation before any resource exists, whoever deploys the template and with whatever tool.
import { Aws, CfnRule, Fn, NestedStack, Stack, type IAspect } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** The rule's logical id in every template. */
export const ALLOWED_REGIONS_RULE = 'AllowedRegions';

/**
 * Adds the region rule to every stack it visits: `Aspects.of(app).add(new AllowedRegions(regions))`.
 * An empty list means any region, and adds nothing.
 */
export class AllowedRegions implements IAspect {
  constructor(private readonly regions: readonly string[]) {}

  visit(node: IConstruct): void {
    if (this.regions.length === 0) return;
    // A nested stack deploys where its parent does; the parent's rule covers it.
    if (!Stack.isStack(node) || node instanceof NestedStack) return;
    if (node.node.tryFindChild(ALLOWED_REGIONS_RULE) !== undefined) return;
    new CfnRule(node, ALLOWED_REGIONS_RULE, {
      assertions: [
        {
          assert: Fn.conditionContains([...this.regions], Aws.REGION),
          assertDescription: `This stack holds or serves personal data and may be deployed only in ${this.regions.join(', ')} (context allowedRegions).`,
        },
      ],
    });
  }
}
