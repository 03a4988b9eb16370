import type * as apigw from 'aws-cdk-lib/aws-apigateway';

/**
 * The Files, Batch and Message Batches routes under `/v1`, each method on the router's integration: Bearer keys on
 * the OpenAI shapes, x-api-key on Anthropic's (its SDKs send that header). The paths lambda/core/batch/route-match.ts
 * serves; the rest of /v1/messages stays as it was.
 */
export function addBatchRoutes(v1: apigw.IResource, integration: apigw.Integration, bearer: apigw.MethodOptions, xApiKey: apigw.MethodOptions): void {
  const add = (path: string[], methods: string[], options: apigw.MethodOptions): void => {
    const resource = path.reduce((r, part) => r.getResource(part) ?? r.addResource(part), v1);
    for (const m of methods) resource.addMethod(m, integration, options);
  };
  add(['files'], ['POST', 'GET'], bearer);
  add(['files', '{file_id}'], ['GET', 'DELETE'], bearer);
  add(['files', '{file_id}', 'content'], ['GET'], bearer);
  add(['batches'], ['POST', 'GET'], bearer);
  add(['batches', '{batch_id}'], ['GET'], bearer);
  add(['batches', '{batch_id}', 'cancel'], ['POST'], bearer);
  add(['messages', 'batches'], ['POST', 'GET'], xApiKey);
  add(['messages', 'batches', '{message_batch_id}'], ['GET'], xApiKey);
  add(['messages', 'batches', '{message_batch_id}', 'cancel'], ['POST'], xApiKey);
  add(['messages', 'batches', '{message_batch_id}', 'results'], ['GET'], xApiKey);
}
