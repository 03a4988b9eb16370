// Runs the built router bundle in a plain Node process, as the Lambda runtime would: installs the `awslambda`
// globals, requires assets/lambda/router/index.js and sends one API Gateway proxy event (argv[2], JSON) to its
// buffered handler. Prints the proxy result as JSON on stdout.
globalThis.awslambda = { streamifyResponse: (fn) => fn, HttpResponseStream: { from: (stream) => stream } };
const bundle = require(require('node:path').join(__dirname, '..', '..', 'assets', 'lambda', 'router', 'index.js'));
bundle
  .bufferedHandler(JSON.parse(process.argv[2]))
  .then((result) => process.stdout.write(`${JSON.stringify(result)}\n`))
  .catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  });
