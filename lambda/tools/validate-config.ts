/**
 * The gateway config validation, bundled for the constructs (assets/config-validator/index.js) so `cdk synth` refuses
 * a config the router would refuse at cold start, with the same messages, without lib/ importing the runtime.
 */
import { ConfigError, lifecycleWarnings, resolveConfig } from '../core/config/resolve';
import { PRICE_CATALOG } from '../core/pricing/catalog';

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

/** Warnings for a valid config: models retired or retiring within 60 days of `nowMs`. Empty for an invalid one. */
export function gatewayConfigWarnings(input: unknown, nowMs: number): string[] {
  try {
    return lifecycleWarnings(resolveConfig(input), nowMs);
  } catch (err) {
    if (err instanceof ConfigError) return [];
    throw err;
  }
}

/** The catalog's instance-hour price of a SageMaker instance type, for the InferenceEndpoint's cost at minimum capacity. */
export function catalogInstancePrice(instanceType: string): { usdPerHour: number; asOf: string; verified: boolean } | undefined {
  const entry = PRICE_CATALOG.instances.find((i) => i.id === instanceType);
  return entry ? { usdPerHour: entry.usdPerHour, asOf: entry.asOf, verified: entry.verified } : undefined;
}
