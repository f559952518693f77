// Reading configuration from an environment, for the settings parsers only: each check names the variable
// in a ConfigurationError, so a cold start fails loudly and by name.
import { ConfigurationError } from './errors';

export type Env = Readonly<Record<string, string | undefined>>;

/** The value, or undefined when the variable is unset or blank (templates declare some as ''). */
export function optional(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value;
}

export function required(env: Env, name: string): string {
  const value = optional(env, name);
  if (value === undefined) throw new ConfigurationError(name, 'is not set');
  return value;
}

/** A TCP port, `fallback` when the variable is unset. */
export function tcpPort(env: Env, name: string, fallback: number): number {
  const text = optional(env, name);
  if (text === undefined) return fallback;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw new ConfigurationError(name, 'is not a TCP port');
  return port;
}

/** Checks that `value` is a URL with one of `protocols` (e.g. `['https:', 'http:']`; any when omitted). */
export function checkUrl(name: string, value: string, protocols?: readonly string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    // Never the value: a malformed URL may still hold a password.
    throw new ConfigurationError(name, 'is not a valid URL');
  }
  if (protocols !== undefined && !protocols.includes(parsed.protocol)) {
    throw new ConfigurationError(name, `must be a URL with ${protocols.join(' or ')}`);
  }
  return value;
}

/** The URL when the variable is set, checked; undefined when it is unset or blank. */
export function optionalUrl(env: Env, name: string, protocols?: readonly string[]): string | undefined {
  const value = optional(env, name);
  return value === undefined ? undefined : checkUrl(name, value, protocols);
}
