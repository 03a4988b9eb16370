// One cold start of a built router bundle, as the Lambda Node.js runtime does it: the `awslambda` globals, then
// require assets/lambda/router/index.js (module load + config parse), then one buffered request through the
// handler (the providers' and adapters' code runs for the first time). Prints timings (ms since the process
// started, from performance.now()) as JSON. With --baseline it loads nothing: Node's own start-up.
const { performance } = require('node:perf_hooks');
const t0 = performance.now();
if (process.argv[2] === '--baseline') {
  process.stdout.write(`${JSON.stringify({ boot_ms: t0 })}\n`);
} else {
  globalThis.awslambda = { streamifyResponse: (fn) => fn, HttpResponseStream: { from: (stream) => stream } };
  const bundle = require(process.argv[2]);
  const t1 = performance.now();
  const event = {
    httpMethod: 'POST', path: '/v1/chat/completions', headers: {}, isBase64Encoded: false,
    body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 20 }),
    requestContext: { requestId: 'cold-1', authorizer: { tenant: 'acme' } },
  };
  bundle.bufferedHandler(event).then((res) => {
    const t2 = performance.now();
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}: ${res.body}`);
    process.stdout.write(`${JSON.stringify({ boot_ms: t0, load_ms: t1 - t0, first_request_ms: t2 - t1, init_ms: t2 - t0, rss_mb: process.memoryUsage().rss / 1e6 })}\n`);
  }).catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  });
}
