import type { BatchRecord, BatchStore, StoredFile, StoredLineResult } from '../core/batch/store';

const FINAL = new Set(['failed', 'completed', 'expired', 'cancelled']);

/** The batch API's files, batches and line results in this process only (tests, and `llm-finops local` without --batch-dir). */
export class MemoryBatchStore implements BatchStore {
  private readonly files = new Map<string, { file: StoredFile; content: string }>();
  private readonly batches = new Map<string, BatchRecord>();
  private readonly results = new Map<string, StoredLineResult[]>();

  async putFile(file: StoredFile, content: string): Promise<void> {
    this.files.set(file.id, { file, content });
  }

  async getFile(id: string): Promise<StoredFile | undefined> {
    return this.files.get(id)?.file;
  }

  async readFile(id: string): Promise<string | undefined> {
    return this.files.get(id)?.content;
  }

  async listFiles(tenantId: string): Promise<StoredFile[]> {
    return [...this.files.values()].map((f) => f.file).filter((f) => f.tenantId === tenantId);
  }

  async deleteFile(id: string): Promise<boolean> {
    return this.files.delete(id);
  }

  async putBatch(batch: BatchRecord): Promise<void> {
    this.batches.set(batch.id, structuredClone(batch));
  }

  async getBatch(id: string): Promise<BatchRecord | undefined> {
    const b = this.batches.get(id);
    return b && structuredClone(b);
  }

  async listBatches(tenantId: string): Promise<BatchRecord[]> {
    return [...this.batches.values()].filter((b) => b.tenantId === tenantId).map((b) => structuredClone(b));
  }

  async activeBatches(): Promise<BatchRecord[]> {
    return [...this.batches.values()].filter((b) => !FINAL.has(b.status)).sort((a, b) => a.createdAt - b.createdAt).map((b) => structuredClone(b));
  }

  async appendResult(batchId: string, result: StoredLineResult): Promise<void> {
    const list = this.results.get(batchId) ?? [];
    list.push(result);
    this.results.set(batchId, list);
  }

  async readResults(batchId: string): Promise<StoredLineResult[]> {
    return [...(this.results.get(batchId) ?? [])];
  }
}
