// The Cognito Post Confirmation trigger: writes the confirmed user, or queues them when the database cannot.
import type { Construct } from 'constructs';
import { TriggerFunction, type TriggerFunctionProps } from './trigger-function';

export class PostConfirmation extends TriggerFunction {
  /** `props.databaseUser` is signup_writer (sql/migrations/0002_signup_writer_role.sql). */
  constructor(scope: Construct, props: TriggerFunctionProps) {
    super(
      scope,
      {
        name: 'PostConfirmation',
        entry: 'lambdas/post-confirmation/index.ts',
        description: 'Cognito Post Confirmation: upserts the confirmed user into public.users',
        label: 'post-confirmation',
        errors: 'The post-confirmation function failed: a confirmed user may be missing from public.users',
        // Throttled means the reserved concurrency is exhausted: Cognito gets an error and the row is not written.
        throttles: 'The post-confirmation function was throttled at its reserved concurrency: sign-ups failed',
      },
      props,
    );
  }
}
