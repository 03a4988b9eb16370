/**
 * The gateway config validation, bundled for the constructs (assets/config-validator/index.js) so `cdk synth` refuses
 * a config the router would refuse at cold start, with the same messages, without lib/ importing the runtime.
 */
import { ConfigError, resolveConfig } from '../core/config/resolve';

/** Every problem of a GatewayConfig document, each with its path; empty when it is valid. */
export function validateGatewayConfig(input: unknown): string[] {
  try {
    resolveConfig(input);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
}
