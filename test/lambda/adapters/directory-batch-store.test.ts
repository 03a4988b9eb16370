import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectoryBatchStore } from '../../../lambda/adapters/directory-batch-store';

describe('DirectoryBatchStore', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'llm-finops-bstore-'));

  it('keeps files, batches and results across instances; a torn last result line is not a result', async () => {
    const d = dir();
    const a = new DirectoryBatchStore(d);
    await a.putFile({ id: 'file-1', tenantId: 'acme', purpose: 'batch', filename: 'x.jsonl', bytes: 3, createdAt: 1 }, 'abc');
    await a.appendResult('batch_1', { line: 1, ok: true, result: { id: 'r1', custom_id: 'a', response: null, error: null } });
    appendFileSync(join(d, 'batches', 'batch_1.results.jsonl'), '{"line": 2, "ok": tr');
    const b = new DirectoryBatchStore(d);
    expect(await b.readFile('file-1')).toBe('abc');
    expect((await b.listFiles('acme')).map((f) => f.id)).toEqual(['file-1']);
    expect(await b.listFiles('globex')).toEqual([]);
    expect((await b.readResults('batch_1')).map((r) => r.line)).toEqual([1]);
  });

  it('never turns an id into a path outside its directory', async () => {
    const s = new DirectoryBatchStore(dir());
    expect(await s.getFile('../../etc/passwd')).toBeUndefined();
    expect(await s.readFile('../x')).toBeUndefined();
    expect(await s.getBatch('a/b')).toBeUndefined();
  });

  it('locks the directory for one process: a live holder refuses a second lock, a dead one is taken over', async () => {
    const d = dir();
    const release = await new DirectoryBatchStore(d).lock();
    // The same process locking again stands for a restart after a crash of a process with this pid.
    const again = await new DirectoryBatchStore(d).lock();
    again();
    release();
    writeFileSync(join(d, 'runner.lock'), '1');
    // pid 1 is alive (init), so the directory is in use.
    await expect(new DirectoryBatchStore(d).lock()).rejects.toThrow(/in use by another gateway \(pid 1\)/);
    writeFileSync(join(d, 'runner.lock'), '999999999');
    const taken = await new DirectoryBatchStore(d).lock();
    taken();
  });

  (existsSync('/proc/self/stat') ? it : it.skip)('takes over the lock of a holder killed but not yet reaped (a zombie answers signal 0)', async () => {
    // `sleep 0` exits at once; its parent execs into `sleep 30` and never waits for it: a zombie until the parent ends.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number(await new Promise<string>((r) => parent.stdout!.once('data', (d) => r(String(d).trim()))));
      await new Promise((r) => setTimeout(r, 200));
      const d = dir();
      writeFileSync(join(d, 'runner.lock'), String(pid));
      const taken = await new DirectoryBatchStore(d).lock();
      taken();
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
