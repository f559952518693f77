/** A plain JSON object: what every untrusted payload (a Cognito event, a queued message) must be before it is read. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
