import { appendFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BatchRecord, BatchStore, StoredFile, StoredLineResult } from '../core/batch/store';

const FINAL = new Set(['failed', 'completed', 'expired', 'cancelled']);
/** Ids the service makes (file-..., batch_...); anything else never reaches the disk as a path. */
const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The batch API's state in a directory (`llm-finops local --batch-dir`), so a batch outlives the process: a restarted
 * gateway picks up the batches left running and skips the lines whose results were kept. Layout: files/<id>.json and
 * files/<id>.jsonl, batches/<id>.json (replaced atomically: written aside, then renamed) and batches/<id>.results.jsonl
 * (one result per line, appended as each line settles). One process per directory.
 */
export class DirectoryBatchStore implements BatchStore {
  private ready: Promise<void> | undefined;

  constructor(private readonly dir: string) {}

  private async dirs(): Promise<void> {
    this.ready ??= Promise.all([mkdir(join(this.dir, 'files'), { recursive: true }), mkdir(join(this.dir, 'batches'), { recursive: true })]).then(() => undefined);
    await this.ready;
  }

  private path(kind: 'files' | 'batches', id: string, ext: string): string {
    if (!SAFE_ID.test(id)) throw new Error(`not a batch store id: ${JSON.stringify(id)}`);
    return join(this.dir, kind, `${id}${ext}`);
  }

  private async replace(path: string, text: string): Promise<void> {
    const aside = `${path}.${process.pid}.tmp`;
    await writeFile(aside, text);
    await rename(aside, path);
  }

  private async readJson<T>(path: string): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(path, 'utf8')) as T;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  private async all<T>(kind: 'files' | 'batches'): Promise<T[]> {
    await this.dirs();
    const names = (await readdir(join(this.dir, kind))).filter((n) => n.endsWith('.json') && !n.endsWith('.results.json'));
    const out = await Promise.all(names.map((n) => this.readJson<T>(join(this.dir, kind, n))));
    return out.filter((x): x is Awaited<T> => x !== undefined) as T[];
  }

  /**
   * Claims the directory for this process (`runner.lock` with its pid), so a second gateway on it stops at start-up
   * instead of running the same batches twice. A lock whose process is gone (killed, crashed) is taken over. Returns
   * the release, for a clean shutdown.
   */
  async lock(): Promise<() => void> {
    await this.dirs();
    const path = join(this.dir, 'runner.lock');
    for (let tries = 0; tries < 2; tries++) {
      try {
        writeFileSync(path, String(process.pid), { flag: 'wx' });
        return () => rmSync(path, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = Number(readFileSync(path, 'utf8'));
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
        throw new Error(`${this.dir} is in use by another gateway (pid ${holder}); one process runs the batches of a --batch-dir`);
      }
      rmSync(path, { force: true });
    }
    throw new Error(`cannot lock ${this.dir}`);
  }

  async putFile(file: StoredFile, content: string): Promise<void> {
    await this.dirs();
    await this.replace(this.path('files', file.id, '.jsonl'), content);
    await this.replace(this.path('files', file.id, '.json'), JSON.stringify(file));
  }

  async getFile(id: string): Promise<StoredFile | undefined> {
    if (!SAFE_ID.test(id)) return undefined;
    await this.dirs();
    return this.readJson<StoredFile>(this.path('files', id, '.json'));
  }

  async readFile(id: string): Promise<string | undefined> {
    if (!SAFE_ID.test(id)) return undefined;
    try {
      return await readFile(this.path('files', id, '.jsonl'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async listFiles(tenantId: string): Promise<StoredFile[]> {
    return (await this.all<StoredFile>('files')).filter((f) => f.tenantId === tenantId);
  }

  async deleteFile(id: string): Promise<boolean> {
    const had = (await this.getFile(id)) !== undefined;
    await rm(this.path('files', id, '.json'), { force: true });
    await rm(this.path('files', id, '.jsonl'), { force: true });
    return had;
  }

  async putBatch(batch: BatchRecord): Promise<void> {
    await this.dirs();
    await this.replace(this.path('batches', batch.id, '.json'), JSON.stringify(batch));
  }

  async getBatch(id: string): Promise<BatchRecord | undefined> {
    if (!SAFE_ID.test(id)) return undefined;
    await this.dirs();
    return this.readJson<BatchRecord>(this.path('batches', id, '.json'));
  }

  async listBatches(tenantId: string): Promise<BatchRecord[]> {
    return (await this.all<BatchRecord>('batches')).filter((b) => b.tenantId === tenantId);
  }

  async activeBatches(): Promise<BatchRecord[]> {
    return (await this.all<BatchRecord>('batches')).filter((b) => !FINAL.has(b.status)).sort((a, b) => a.createdAt - b.createdAt);
  }

  async appendResult(batchId: string, result: StoredLineResult): Promise<void> {
    await this.dirs();
    await appendFile(this.path('batches', batchId, '.results.jsonl'), `${JSON.stringify(result)}\n`);
  }

  /** A line cut short by a crash mid-write is not a result: that line runs again. */
  async readResults(batchId: string): Promise<StoredLineResult[]> {
    let text: string;
    try {
      text = await readFile(this.path('batches', batchId, '.results.jsonl'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: StoredLineResult[] = [];
    for (const l of text.split('\n')) {
      if (!l) continue;
      try {
        out.push(JSON.parse(l) as StoredLineResult);
      } catch {
        // the torn last line of a crash
      }
    }
    return out;
  }
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A process killed but not yet reaped by its parent (a zombie, state Z in /proc on Linux) answers signal 0 but holds
  // nothing: the gateway it was is gone.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}
