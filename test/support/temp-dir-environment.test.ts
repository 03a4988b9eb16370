import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename } from 'node:path';
import { spawnSync } from 'node:child_process';

describe('the test environment', () => {
  it('gives each test file a temp directory of its own, seen alike by os.tmpdir(), process.env and child processes', () => {
    expect(basename(tmpdir())).toMatch(/^llm-finops-test-/);
    expect(existsSync(tmpdir())).toBe(true);
    expect(process.env.TMPDIR).toBe(tmpdir());
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(require("node:os").tmpdir())'], { encoding: 'utf8' });
    expect(child.stdout).toBe(tmpdir());
  });
});
