import { GatewayError, NotFoundError } from './errors';

export type RouteName = 'chat' | 'embeddings' | 'models' | 'usage' | 'feedback' | 'health';

/** The gateway's HTTP surface, shared by the Lambda handler and the local server. */
const ROUTES: Readonly<Record<string, { readonly method: string; readonly name: RouteName }>> = {
  '/v1/chat/completions': { method: 'POST', name: 'chat' },
  '/v1/embeddings': { method: 'POST', name: 'embeddings' },
  '/v1/models': { method: 'GET', name: 'models' },
  '/v1/usage': { method: 'GET', name: 'usage' },
  '/v1/feedback': { method: 'POST', name: 'feedback' },
  '/health': { method: 'GET', name: 'health' },
};

/** Maps a request line to a route: 404 for an unknown path, 405 for a known path with the wrong method. */
export function matchRoute(method: string | undefined, rawPath: string): RouteName {
  const path = rawPath.split('?')[0].replace(/\/+$/, '') || '/';
  const route = ROUTES[path];
  if (!route) throw new NotFoundError(`Unknown path ${path}.`, null, 'unknown_url');
  if (method !== route.method) {
    throw new GatewayError(`Method ${method} is not allowed on ${path}; use ${route.method}.`, 405, 'invalid_request_error', 'method_not_allowed');
  }
  return route.name;
}

export const HEALTH_BODY = { status: 'ok' } as const;
