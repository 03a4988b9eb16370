import { sha256 } from '../adapters/system-runtime';
import { resolveConfig } from '../core/config/resolve';
import { configFromEnv } from './shared/config-from-env';
import { createAuthorizerHandler } from './shared/authorizer-handler';

/** Built once per execution environment from the same config document as the router. */
export const handler = createAuthorizerHandler(resolveConfig(configFromEnv()), sha256);
