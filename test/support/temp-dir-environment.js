// @ts-check
/**
 * Jest's node environment with a temp directory of its own per test file, removed when the file ends.
 *
 * Every synth of an App without an outdir copies its assets into a new `cdk.out*` folder of the system's temp
 * directory and never removes it; with the sentence encoder's weights (28 MB) and the router's bundle (5 MB) in the
 * reference platform, a full run left about ten gigabytes there and filled a CI machine's disk mid-run (ENOSPC).
 * Pointing TMPDIR (read by `os.tmpdir()`, hence by aws-cdk-lib, by our own temp folders and by the child processes
 * the CLI tests spawn) at a per-file folder bounds the run's disk use to one test file's output at a time.
 *
 * Set in the constructor, before the sandbox copies `process.env`, so the test's own view agrees with `os.tmpdir()`;
 * the worker runs one test file at a time, so the variable is the file's own until teardown restores it.
 *
 * The synth outputs CDK names itself (`cdk.out*`, from Apps without an outdir) go after each test, not only at the
 * file's end: a file of 16 platform synths held 533 MB until it ended. Tests read a template once they synthesise it
 * (`Template.fromStack`), so nothing reads these folders after the test that made them; a test that needs its
 * assembly later gives its App an outdir of its own.
 */
const { appendFileSync, lstatSync, mkdtempSync, readdirSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { TestEnvironment } = require('jest-environment-node');

class TempDirEnvironment extends TestEnvironment {
  /**
   * @param {ConstructorParameters<typeof TestEnvironment>[0]} config
   * @param {ConstructorParameters<typeof TestEnvironment>[1]} context
   */
  constructor(config, context) {
    const previous = process.env.TMPDIR;
    const dir = mkdtempSync(join(tmpdir(), 'llm-finops-test-'));
    process.env.TMPDIR = dir;
    super(config, context);
    this.tempDir = dir;
    this.previousTmpdir = previous;
    this.testPath = context.testPath;
  }

  /** @param {{ name: string }} event */
  handleTestEvent(event) {
    if (event.name !== 'test_done') return;
    for (const name of readdirSync(this.tempDir)) {
      if (name.startsWith('cdk.out')) rmSync(join(this.tempDir, name), { recursive: true, force: true, maxRetries: 3 });
    }
  }

  async teardown() {
    await super.teardown();
    if (this.previousTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = this.previousTmpdir;
    // LLM_FINOPS_TEST_TMP_REPORT=<file> appends the bytes each test file leaves in its temp directory at its end.
    const report = process.env.LLM_FINOPS_TEST_TMP_REPORT;
    if (report) appendFileSync(report, `${this.testPath}\t${bytesUnder(this.tempDir)}\n`);
    rmSync(this.tempDir, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** @param {string} dir @returns {number} */
function bytesUnder(dir) {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += bytesUnder(p);
    else total += lstatSync(p).size;
  }
  return total;
}

module.exports = TempDirEnvironment;
