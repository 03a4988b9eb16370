/**
 * Zero-import contract between the constructs in lib/ and the handlers in lambda/handlers: environment variable names
 * and bundle names. lib/ may import this file and nothing else from lambda/.
 */
export const ENV_CONFIG_JSON = 'LLM_FINOPS_CONFIG';
export const ENV_CONFIG_FILE = 'LLM_FINOPS_CONFIG_FILE';

/** Pre-built bundles under assets/lambda/<name>/index.js, written by `npm run build`. */
export const BUNDLES = {
  router: 'router',
} as const;
