import { GatewayError, NotFoundError } from './errors';
import type { Api } from './formats/wire';

export type RouteName = 'chat' | 'messages' | 'count_tokens' | 'responses' | 'embeddings' | 'models' | 'usage' | 'feedback' | 'health';

/**
 * The gateway's HTTP surface, shared by the Lambda handler and the local server (through edge.ts). `api` is the wire
 * format whose shape the route's answers and errors take.
 */
export const ROUTES: Readonly<Record<string, { readonly method: string; readonly name: RouteName; readonly api: Api }>> = {
  '/v1/chat/completions': { method: 'POST', name: 'chat', api: 'chat' },
  '/v1/messages': { method: 'POST', name: 'messages', api: 'messages' },
  '/v1/messages/count_tokens': { method: 'POST', name: 'count_tokens', api: 'messages' },
  '/v1/responses': { method: 'POST', name: 'responses', api: 'responses' },
  '/v1/embeddings': { method: 'POST', name: 'embeddings', api: 'chat' },
  '/v1/models': { method: 'GET', name: 'models', api: 'chat' },
  '/v1/usage': { method: 'GET', name: 'usage', api: 'chat' },
  '/v1/feedback': { method: 'POST', name: 'feedback', api: 'chat' },
  '/health': { method: 'GET', name: 'health', api: 'chat' },
};

/** The path without its query string (`?beta=true`, which Claude Code adds) and trailing slashes. */
export function routePath(rawPath: string): string {
  return rawPath.split('?')[0].replace(/\/+$/, '') || '/';
}

/** The wire format of a path, for shaping an error before the route is known to exist (Anthropic paths get Anthropic errors). */
export function apiOfPath(rawPath: string): Api {
  const path = routePath(rawPath);
  return ROUTES[path]?.api ?? (path.startsWith('/v1/messages') ? 'messages' : 'chat');
}

/** Maps a request line to a route: 404 for an unknown path, 405 for a known path with the wrong method. */
export function matchRoute(method: string | undefined, rawPath: string): RouteName {
  const path = routePath(rawPath);
  const route = ROUTES[path];
  if (!route) throw new NotFoundError(`Unknown path ${path}.`, null, 'unknown_url');
  if (method !== route.method) {
    throw new GatewayError(`Method ${method} is not allowed on ${path}; use ${route.method}.`, 405, 'invalid_request_error', 'method_not_allowed');
  }
  return route.name;
}

export const HEALTH_BODY = { status: 'ok' } as const;
