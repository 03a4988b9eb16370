import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { AUTHORIZER_TENANT_KEY, usageIdentifierFor } from '../../contract';
import { presentedKey } from '../../core/api-key';
import type { Sha256, TenantDirectory } from '../../core/ports';

/** Every method of the stage: API Gateway caches one decision per key, so it must cover all routes. */
function stageWildcard(methodArn: string): string {
  // arn:aws:execute-api:region:account:apiId/stage/METHOD/path...
  const [apiArn, stage] = methodArn.split('/');
  return `${apiArn}/${stage}/*/*`;
}

/**
 * Lambda REQUEST authorizer: `Authorization: Bearer <key>` or `x-api-key: <key>` -> tenant, by the SHA-256 hashes in the config or in the
 * tenant directory (plain keys are never stored). Returns the tenant in the context for the router and the tenant's usage identifier for its
 * usage plan. An unknown or missing key is refused with API Gateway's 401 ("Unauthorized").
 */
/** keyHashes: sha256(key) -> tenant id, from the config (tenantKeyHashes, or a resolved config's keyHashes). */
export function createAuthorizerHandler(keyHashes: ReadonlyMap<string, string>, sha256: Sha256, tenants?: Pick<TenantDirectory, 'tenantForKey'>, usageScope = '') {
  return async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
    // A malformed event is refused the way API Gateway refuses a bad key: a plain Unauthorized, never a 500.
    if (typeof event !== 'object' || event === null || typeof event.methodArn !== 'string' || event.methodArn.split('/').length < 2) throw new Error('Unauthorized');
    const headers = typeof event.headers === 'object' && event.headers !== null && !Array.isArray(event.headers) ? event.headers : {};
    let header: string | undefined;
    let apiKey: string | undefined;
    for (const [k, v] of Object.entries(headers)) {
      if (typeof v !== 'string') continue;
      if (k.toLowerCase() === 'authorization') header = v;
      else if (k.toLowerCase() === 'x-api-key') apiKey = v;
    }
    // Bearer (OpenAI clients) or x-api-key (Anthropic clients, Claude Code): the same key either way.
    const presented = presentedKey(header, apiKey);
    const hash = 'key' in presented ? sha256(presented.key) : undefined;
    // Config keys first (no I/O); then run-time tenants (one GetItem; API Gateway caches the decision per key).
    const tenant = hash ? keyHashes.get(hash) ?? (await tenants?.tenantForKey(hash)) : undefined;
    if (!tenant) throw new Error('Unauthorized');
    return {
      principalId: tenant,
      policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: stageWildcard(event.methodArn) }] },
      context: { [AUTHORIZER_TENANT_KEY]: tenant },
      usageIdentifierKey: usageIdentifierFor(tenant, usageScope),
    };
  };
}
