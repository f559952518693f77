// The Cognito PreSignUp trigger: refuses a malformed or taken handle before the account exists.
import type { Construct } from 'constructs';
import { TriggerFunction, type TriggerFunctionProps } from './trigger-function';

export class PreSignUp extends TriggerFunction {
  /** `props.databaseUser` is handle_checker: it can only learn whether a handle is taken (sync.handle_taken). */
  constructor(scope: Construct, props: TriggerFunctionProps) {
    super(
      scope,
      {
        name: 'PreSignUp',
        entry: 'lambdas/pre-sign-up/index.ts',
        description: 'Cognito PreSignUp: refuses a malformed or already-taken handle before the account exists',
        label: 'pre-sign-up',
        alarmLabel: 'PreSignUp',
        // A failing PreSignUp refuses every sign-up before the account exists: nothing is queued, people just leave.
        errors: 'The PreSignUp function failed: sign-ups are being refused before the account exists',
        // Unauthenticated callers reach it, so its concurrency is bounded; a throttle refuses the sign-up.
        throttles: 'The PreSignUp function was throttled at its reserved concurrency: sign-ups were refused',
      },
      props,
    );
  }
}
