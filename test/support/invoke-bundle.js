// Runs a built Lambda bundle in a plain Node process, as the Lambda runtime would: installs the `awslambda`
// globals, requires assets/lambda/<argv[2]>/index.js and sends one event (argv[4], JSON) to its export argv[3]
// (e.g. router bufferedHandler, budget-action handler). Prints the result as JSON on stdout. With argv[5]
// `--stream` the export is a streaming handler: it gets a response stream, and what it wrote is printed as
// {"streamed": text}. With `--sequence` argv[4] is an array of events, sent one after another to the same instance,
// and the results are printed as an array. INVOKE_BUNDLE_ROOT names another directory holding the bundles (a copy
// outside this repository, where no node_modules is reachable, as in the Lambda).
const { PassThrough } = require('node:stream');
globalThis.awslambda = { streamifyResponse: (fn) => fn, HttpResponseStream: { from: (stream) => stream } };
const [bundleName, exportName, event, mode] = process.argv.slice(2);
const root = process.env.INVOKE_BUNDLE_ROOT ?? require('node:path').join(__dirname, '..', '..', 'assets', 'lambda');
const bundle = require(require('node:path').join(root, bundleName, 'index.js'));
let invoked;
if (mode === '--sequence') {
  invoked = JSON.parse(event).reduce((done, e) => done.then(async (results) => [...results, await bundle[exportName](e)]), Promise.resolve([]));
} else if (mode === '--stream') {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => (text += d));
  invoked = bundle[exportName](JSON.parse(event), out).then(() => ({ streamed: text }));
} else {
  invoked = bundle[exportName](JSON.parse(event));
}
invoked
  .then((result) => process.stdout.write(`${JSON.stringify(result)}\n`))
  .catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  });
