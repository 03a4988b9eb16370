import type { BatchHold } from '../quota/batch-hold';
import type { BatchEndpoint, BatchLineError } from './input';
import type { JobState } from './jobs';
import type { BatchOutputLine } from './runner';

/** A provider batch job answering some of a batch's lines (one job per model). */
export interface BatchJobRef {
  readonly model: string;
  readonly jobId: string;
  /** The input line numbers the job carries (its record ids: recordIdOf). */
  readonly lines: readonly number[];
  readonly state: JobState;
  readonly message?: string;
}

/** A file of the Files API: a batch's input (`batch`) or its output and error files (`batch_output`). */
export interface StoredFile {
  readonly id: string;
  readonly tenantId: string;
  readonly purpose: 'batch' | 'batch_output';
  readonly filename: string;
  readonly bytes: number;
  /** Epoch seconds, as the Files API reports them. */
  readonly createdAt: number;
}

/** The OpenAI Batch API's statuses. */
export type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

/** A batch as the store keeps it: the Batch API object's fields, who submitted it, and its quota hold. */
export interface BatchRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly apiKeyId?: string;
  readonly feature?: string;
  readonly endpoint: BatchEndpoint;
  readonly inputFileId: string;
  readonly completionWindow: string;
  readonly status: BatchStatus;
  readonly metadata: Readonly<Record<string, string>> | null;
  /** Epoch seconds of each step, null until it happens. */
  readonly createdAt: number;
  readonly inProgressAt: number | null;
  readonly expiresAt: number;
  readonly finalizingAt: number | null;
  readonly completedAt: number | null;
  readonly failedAt: number | null;
  readonly expiredAt: number | null;
  readonly cancellingAt: number | null;
  readonly cancelledAt: number | null;
  readonly outputFileId: string | null;
  readonly errorFileId: string | null;
  readonly requestCounts: { readonly total: number; readonly completed: number; readonly failed: number };
  /** Why the input was refused (status failed), OpenAI's `errors.data`; `more` counts the problems not listed. */
  readonly errors: { readonly data: readonly BatchLineError[]; readonly more: number } | null;
  /** The whole batch's reservation while it runs; null once released (or when the quota store was unreachable, fail-open). */
  readonly hold: BatchHold | null;
  /** Epoch ms before which the local simulator does not start the batch. */
  readonly runAfterMs: number;
  /** The provider batch jobs answering the lines; null when the gateway runs the lines itself (the simulator). */
  readonly jobs?: readonly BatchJobRef[] | null;
}

/** One line's result as the runner keeps it while the batch runs: the output or error line, by input line number. */
export interface StoredLineResult {
  readonly line: number;
  readonly ok: boolean;
  readonly result: BatchOutputLine;
}

/**
 * Where the batch API keeps files, batches and each line's result as it is settled. Tenancy is the caller's: every
 * read returns the record whatever its tenant, and the service answers 404 for another tenant's.
 */
export interface BatchStore {
  putFile(file: StoredFile, content: string): Promise<void>;
  getFile(id: string): Promise<StoredFile | undefined>;
  readFile(id: string): Promise<string | undefined>;
  listFiles(tenantId: string): Promise<StoredFile[]>;
  deleteFile(id: string): Promise<boolean>;
  /** Creates or replaces the batch. */
  putBatch(batch: BatchRecord): Promise<void>;
  getBatch(id: string): Promise<BatchRecord | undefined>;
  listBatches(tenantId: string): Promise<BatchRecord[]>;
  /** Batches not yet in a final state (validating, in_progress, finalizing, cancelling), for the runner to (re)start. */
  activeBatches(): Promise<BatchRecord[]>;
  /** Keeps one line's result the moment it is settled, so a restarted runner does not run it again. */
  appendResult(batchId: string, result: StoredLineResult): Promise<void>;
  readResults(batchId: string): Promise<StoredLineResult[]>;
}

/** One batch runner at a time across processes (the Lambda poller's instances): AwsBatchStore.lease / release. */
export interface PollerLease {
  /** Takes the lease until `untilMs` unless another holder's lease runs; whether `holder` has it. */
  take(holder: string, untilMs: number): Promise<boolean>;
  /** Gives it back, if `holder` still has it. */
  release(holder: string): Promise<void>;
}
