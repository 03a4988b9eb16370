// Prints what `cdk synth` wrote to cdk.out: each stack with its resource counts by type.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const out = join(new URL('..', import.meta.url).pathname, process.argv[2] ?? 'cdk.out');
const templates = readdirSync(out).filter((f) => f.endsWith('.template.json'));
if (!templates.length) {
  process.stderr.write('cdk.out holds no templates: synthesis failed\n');
  process.exit(1);
}
for (const file of templates) {
  const t = JSON.parse(readFileSync(join(out, file), 'utf8'));
  const counts = {};
  for (const r of Object.values(t.Resources ?? {})) counts[r.Type] = (counts[r.Type] ?? 0) + 1;
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  process.stdout.write(`synthesised ${file} (${total} resources)\n`);
  for (const [type, n] of Object.entries(counts).sort()) process.stdout.write(`  ${String(n).padStart(3)}  ${type}\n`);
}
process.stdout.write(`templates and assets are in ${out}\n`);
