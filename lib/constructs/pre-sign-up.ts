// The Cognito PreSignUp trigger: refuses a malformed or taken handle before the account exists, and, with
// `-c linkFederatedByEmail=true`, links a first federated sign-in to the local user with the same verified email.
import type * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { TriggerFunction, type TriggerFunctionProps } from './trigger-function';

const ALARMS = {
  // A failing PreSignUp refuses every sign-up before the account exists: nothing is queued, people just leave.
  errors: 'The PreSignUp function failed: sign-ups are being refused before the account exists',
  // Unauthenticated callers reach it, so its concurrency is bounded; a throttle refuses the sign-up.
  throttles: 'The PreSignUp function was throttled at its reserved concurrency: sign-ups were refused',
};

export interface PreSignUpProps extends TriggerFunctionProps {
  /**
   * Link first federated sign-ins by verified email: the function then runs outside the VPC (it must call
   * Cognito, which a pool with a domain never answers through the VPC endpoint) and asks this in-VPC function
   * for the handle check. @default - in the VPC, checking handles itself; no linking
   */
  readonly linkingWith?: HandleCheck;
}

export class PreSignUp extends TriggerFunction {
  /** `props.databaseUser` is handle_checker: it can only learn whether a handle is taken (sync.handle_taken). */
  constructor(scope: Construct, props: PreSignUpProps) {
    const handleCheck = props.linkingWith;
    super(
      scope,
      {
        name: 'PreSignUp',
        entry: 'lambdas/pre-sign-up/index.ts',
        description:
          handleCheck === undefined
            ? 'Cognito PreSignUp: refuses a malformed or already-taken handle before the account exists'
            : 'Cognito PreSignUp: refuses a malformed or taken handle (asking HandleCheck), links federated sign-ins by verified email',
        label: 'pre-sign-up',
        alarmLabel: 'PreSignUp',
        ...ALARMS,
        ...(handleCheck === undefined
          ? {}
          : {
              outsideVpc: true,
              environment: {
                HANDLE_CHECK_FUNCTION_NAME: handleCheck.fn.functionName,
                LINK_FEDERATED_BY_EMAIL: 'true',
              },
            }),
      },
      props,
    );
    if (handleCheck !== undefined) {
      // The function itself, not its versions or aliases (grantInvoke would add `<arn>:*`).
      this.fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [handleCheck.fn.functionArn] }),
      );
    }
  }

  /**
   * Lets the function find users by email and link an identity to one, in `userPool` only. A policy of its own,
   * not the role's default one: the pool names the function as its trigger, and the function waits for its default
   * policy, so the pool's ARN there would be a dependency cycle.
   */
  allowLinking(scope: Construct, userPool: cognito.IUserPool): iam.Policy {
    const policy = new iam.Policy(scope, 'PreSignUpLinking', {
      statements: [
        new iam.PolicyStatement({
          actions: ['cognito-idp:ListUsers', 'cognito-idp:AdminLinkProviderForUser'],
          resources: [userPool.userPoolArn],
        }),
      ],
    });
    policy.attachToRole(this.fn.role!);
    return policy;
  }
}

/**
 * The handle check alone, in the VPC as handle_checker (lambdas/handle-check): what PreSignUp asks when it runs
 * outside the VPC. Its concurrency is PreSignUp's, since each sign-up makes one call.
 */
export class HandleCheck extends TriggerFunction {
  constructor(scope: Construct, props: TriggerFunctionProps) {
    super(
      scope,
      {
        name: 'HandleCheck',
        entry: 'lambdas/handle-check/index.ts',
        description: 'Whether a handle is taken, for the PreSignUp trigger outside the VPC (sync.handle_taken)',
        label: 'handle-check',
        alarmLabel: 'HandleCheck',
        // PreSignUp lets the sign-up go ahead unchecked; the handle rule still decides at confirmation.
        errors: 'The handle-check function failed: sign-ups go ahead with their handles unchecked until confirmation',
        throttles: 'The handle-check function was throttled: sign-ups went ahead with their handles unchecked',
      },
      props,
    );
  }
}
