import { closeSync, fstatSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Alert, AlertSink, QuotaAlert, SwitchBackAlert, UsageSink } from '../core/ports';
import type { FeedbackRecord, UsageRecord } from '../core/usage';

/**
 * Appends one JSON line per record. Synchronous so a crash never loses an acknowledged request's record. The file
 * stays open (appendFileSync opened and closed it per record: 7% of the local gateway's CPU under load); at most once
 * a second it checks that the path still names the open file, so a log rotated away (renamed or deleted) is followed
 * by a fresh file at the path.
 */
export class JsonlUsageSink implements UsageSink {
  private fd: number | undefined;
  private inode = -1;
  private checkedAtMs = 0;

  constructor(private readonly path: string, private readonly now: () => number = Date.now) {
    mkdirSync(dirname(path), { recursive: true });
  }

  write(record: UsageRecord): void {
    this.append(record);
  }

  feedback(record: FeedbackRecord): void {
    this.append(record);
  }

  /** Closes the file (the next record reopens it). */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private append(record: UsageRecord | FeedbackRecord): void {
    const line = `${JSON.stringify(record)}\n`;
    try {
      writeSync(this.file(), line);
    } catch (err) {
      // One retry on a fresh descriptor (the file was removed under us, or the descriptor went bad).
      this.close();
      try {
        writeSync(this.file(), line);
      } catch {
        process.stderr.write(`usage sink: cannot append to ${this.path}: ${(err as Error).message}\n`);
      }
    }
  }

  private file(): number {
    const now = this.now();
    if (this.fd !== undefined && now - this.checkedAtMs >= 1000) {
      this.checkedAtMs = now;
      let ino = -1;
      try {
        ino = statSync(this.path).ino;
      } catch {
        // missing: reopen below
      }
      if (ino !== this.inode) this.close();
    }
    if (this.fd === undefined) {
      this.fd = openSync(this.path, 'a');
      this.inode = fstatSync(this.fd).ino;
      this.checkedAtMs = now;
    }
    return this.fd;
  }
}

/**
 * One JSON line per record on stdout: in Lambda, CloudWatch Logs keeps it for Logs Insights and subscription
 * delivery; `_type` lets queries pick usage lines out of other log output.
 */
export class StdoutUsageSink implements UsageSink {
  write(record: UsageRecord): void {
    process.stdout.write(`${JSON.stringify({ _type: 'llm_usage', ...record })}\n`);
  }

  feedback(record: FeedbackRecord): void {
    process.stdout.write(`${JSON.stringify({ _type: 'llm_feedback', ...record })}\n`);
  }
}

export class MemoryUsageSink implements UsageSink {
  readonly records: UsageRecord[] = [];
  readonly feedbacks: FeedbackRecord[] = [];

  write(record: UsageRecord): void {
    this.records.push(record);
  }

  feedback(record: FeedbackRecord): void {
    this.feedbacks.push(record);
  }
}

/** Every record to each sink (the Lambda: its log line and metrics, and Firehose for S3 / Athena). */
export class TeeUsageSink implements UsageSink {
  constructor(private readonly sinks: readonly UsageSink[]) {}

  write(record: UsageRecord): void {
    for (const s of this.sinks) s.write(record);
  }

  feedback(record: FeedbackRecord): void {
    for (const s of this.sinks) s.feedback(record);
  }

  async flush(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.flush?.()));
  }
}

export class NullUsageSink implements UsageSink {
  write(): void {}
  feedback(): void {}
}

export class MemoryAlertSink implements AlertSink {
  readonly alerts: QuotaAlert[] = [];
  readonly switchAlerts: SwitchBackAlert[] = [];

  publish(alert: Alert): void {
    if (alert.type === 'switch_back') this.switchAlerts.push(alert);
    else this.alerts.push(alert);
  }
}

/** Hands each alert to every sink (the Lambda: its log line and metric, then SNS delivery). */
export class TeeAlertSink implements AlertSink {
  constructor(private readonly sinks: readonly AlertSink[]) {}

  publish(alert: Alert): void {
    for (const s of this.sinks) s.publish(alert);
  }

  async flush(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.flush?.()));
  }
}

/** Writes alerts as JSON lines on stderr (`llm-finops local`, and the Lambda without an alert topic). */
export class LogAlertSink implements AlertSink {
  publish(alert: Alert): void {
    process.stderr.write(`${JSON.stringify({ _type: 'llm_alert', ...alert })}\n`);
  }
}
