// One cold Lambda instance of the router with the sentence encoder (bench/sentence-lambda.ts): loads the staged bundle
// (argv[2], a copy outside the repository) as the runtime would, waits for the model the bundle starts loading at
// init, sends one request (a cold start's first), then embeds `runs` single prompts as requests would. Prints JSON.
const { performance } = require('node:perf_hooks');
const { join } = require('node:path');
const { readdirSync } = require('node:fs');
const t0 = performance.now();
globalThis.awslambda = { streamifyResponse: (fn) => fn, HttpResponseStream: { from: (s) => s } };
const [dir, runsArg] = process.argv.slice(2);
const bundle = require(join(dir, 'index.js'));
const init_ms = performance.now() - t0;
const chunk = readdirSync(join(dir, 'lazy')).find((f) => f.startsWith('sentence-embedder-'));
const encoder = require(join(dir, 'lazy', chunk));
const event = (content) => ({
  httpMethod: 'POST', path: '/v1/chat/completions', headers: {}, isBase64Encoded: false,
  body: JSON.stringify({ model: 'small-a', messages: [{ role: 'user', content }] }),
  requestContext: { requestId: `r-${Math.random()}`, authorizer: { tenant: 'acme' } },
});
(async () => {
  const first = await bundle.bufferedHandler(event('How do I reset my password?'));
  const first_request_ms = performance.now() - t0;
  if (first.statusCode !== 200) throw new Error(`first request: ${first.statusCode} ${first.body}`);
  const model_ready_ms = performance.now() - t0; // the request above waited for it
  const rssAfterLoad = process.memoryUsage().rss;
  const embedder = new encoder.SentenceEmbedder();
  const times = [];
  for (let i = 0; i < Number(runsArg); i++) {
    const s = performance.now();
    await embedder.embed([`How do I change the billing address on invoice number ${i} for my account?`]);
    times.push(performance.now() - s);
  }
  const paraphrase = await bundle.bufferedHandler(event('How can I reset my password?'));
  process.stdout.write(`${JSON.stringify({
    init_ms, first_request_ms, model_ready_ms, embed_ms: times, rss_mb_after_load: rssAfterLoad / 1048576, rss_mb_end: process.memoryUsage().rss / 1048576,
    paraphrase_cache: paraphrase.headers['x-llm-cache'], node: process.version,
  })}\n`);
})().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
