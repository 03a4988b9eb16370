// Runs the built kill-switch bundle (assets/lambda/budget-action/index.js) in a plain Node process, as the Lambda
// runtime would: requires it and sends one SNS event (argv[2], JSON) to its handler. Prints the result as JSON.
const bundle = require(require('node:path').join(__dirname, '..', '..', 'assets', 'lambda', 'budget-action', 'index.js'));
bundle
  .handler(JSON.parse(process.argv[2]))
  .then((result) => process.stdout.write(`${JSON.stringify(result)}\n`))
  .catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  });
