// Runs a built Lambda bundle in a plain Node process, as the Lambda runtime would: installs the `awslambda`
// globals, requires assets/lambda/<argv[2]>/index.js and sends one event (argv[4], JSON) to its export argv[3]
// (e.g. router bufferedHandler, budget-action handler). Prints the result as JSON on stdout.
globalThis.awslambda = { streamifyResponse: (fn) => fn, HttpResponseStream: { from: (stream) => stream } };
const [bundleName, exportName, event] = process.argv.slice(2);
const bundle = require(require('node:path').join(__dirname, '..', '..', 'assets', 'lambda', bundleName, 'index.js'));
bundle[exportName](JSON.parse(event))
  .then((result) => process.stdout.write(`${JSON.stringify(result)}\n`))
  .catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  });
