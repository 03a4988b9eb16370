/**
 * The API key a request presents: `Authorization: Bearer <key>` (OpenAI clients) or `x-api-key: <key>` (Anthropic
 * clients, Claude Code). Bearer wins when both are sent. Read the same way by the Lambda authorizer and the gateway.
 */
export function presentedKey(authorization: string | undefined, xApiKey: string | undefined): { readonly key: string } | { readonly problem: 'missing' | 'malformed' } {
  if (authorization) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return m ? { key: m[1] } : { problem: 'malformed' };
  }
  if (xApiKey !== undefined) {
    const m = /^\s*(\S+)\s*$/.exec(xApiKey);
    return m ? { key: m[1] } : { problem: 'malformed' };
  }
  return { problem: 'missing' };
}

/** An API key's id in policies and counters: the first 16 hex characters of its SHA-256 (never the key). */
export function apiKeyIdOf(sha256Hex: string): string {
  return sha256Hex.slice(0, 16);
}
