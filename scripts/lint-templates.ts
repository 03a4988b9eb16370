// AWS's CloudFormation linter over every template we synthesise: the every-option app (the reference platform, two
// Regions, billing, staging and production stacks), the self-hosted Inferentia example and the small-model example. Errors fail; a warning
// fails unless ALLOWED lists its rule (and where) with the reason it stays. Run by .ci/run after the README's test
// command (`npm run lint:templates`). Offline: cfn-lint 1.x from pip, which these machines have.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildEverythingApp } from '../examples/everything/app';
import { SelfHostedInferentiaStack } from '../examples/self-hosted-inferentia/stack';
import { SmallModelStack } from '../examples/small-model/stack';

interface Finding { Level: string; Rule: { Id: string; ShortDescription: string }; Filename: string; Message: string; Location: { Path: (string | number)[] } }

/** Warnings that stay, each with its reason. */
const ALLOWED: { rule: string; path?: RegExp; reason: string }[] = [
  {
    rule: 'W3005',
    reason: 'aws-cdk-lib lists a role in DependsOn beside its default policy (a Lambda function on its service role; our addDependency on a role ' +
      'construct): the GetAtt already orders the role, and the policy, which must exist before the resource uses the role, is the dependency that matters.',
  },
  {
    rule: 'W3045',
    path: /AccessLogs[0-9A-F]{8}\/Properties\/AccessControl$/,
    reason: 'aws-cdk-lib grants S3 server access log delivery to a log bucket by the LogDeliveryWrite ACL unless the app sets the feature flag ' +
      '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy (a library cannot set its users\' flags); the ACL is supported and works. Set the flag in your ' +
      'cdk.json to have a bucket policy instead (docs/deploy.md).',
  },
];

function main(): number {
  const version = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
  if (version.status !== 0) {
    process.stdout.write('lint:templates: cfn-lint is not installed (pip install cfn-lint): skipped\n');
    return 0;
  }
  const out = mkdtempSync(join(tmpdir(), 'llm-finops-lint-'));
  try {
    buildEverythingApp(join(out, 'everything')).synth();
    const inferentia = new App({ outdir: join(out, 'inferentia') });
    new SelfHostedInferentiaStack(inferentia, 'LlmFinOpsSelfHostedInferentia');
    inferentia.synth();
    const smallModel = new App({ outdir: join(out, 'small-model') });
    new SmallModelStack(smallModel, 'LlmFinOpsSmallModel');
    smallModel.synth();
    const templates = ['everything', 'inferentia', 'small-model'].flatMap((d) => readdirSync(join(out, d)).filter((f) => f.endsWith('.template.json')).map((f) => join(out, d, f)));
    const run = spawnSync('cfn-lint', ['--format', 'json', ...templates], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (run.status !== 0 && !run.stdout.trim().startsWith('[')) {
      process.stderr.write(`${run.stdout}${run.stderr}`);
      throw new Error(`cfn-lint failed to run (exit ${run.status})`);
    }
    const findings = JSON.parse(run.stdout || '[]') as Finding[];
    const allowed = (f: Finding) => ALLOWED.find((a) => a.rule === f.Rule.Id && (!a.path || a.path.test(f.Location.Path.join('/'))));
    const errors = findings.filter((f) => f.Level === 'Error');
    const unlisted = findings.filter((f) => f.Level !== 'Error' && !allowed(f));
    process.stdout.write(`${version.stdout.trim()} over ${templates.length} templates: ${errors.length} errors, ${findings.length - errors.length} warnings or notes\n`);
    for (const a of ALLOWED) {
      const n = findings.filter((f) => allowed(f) === a).length;
      if (n) process.stdout.write(`  allowed ${a.rule} x${n}: ${a.reason}\n`);
    }
    for (const f of [...errors, ...unlisted]) {
      process.stdout.write(`  ${f.Level} ${f.Rule.Id} ${f.Filename.split('/').pop()} ${f.Location.Path.join('/')}: ${f.Message}\n`);
    }
    return errors.length || unlisted.length ? 1 : 0;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

process.exitCode = main();
