import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CaptureExample, CaptureSink } from '../core/capture/capture';

/** Feature names become folder names (and S3 key parts): anything but letters, digits, dot, dash and underscore is replaced. */
export const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_') || '_';

/**
 * Captured exchanges as JSONL files (`llm-finops local`, config `capture.path`): `<dir>/<feature>/<yyyy-mm-dd>.jsonl`,
 * one example a line, appended. The files hold scrubbed text only; keep them where the rest of your training data is.
 */
export class DirectoryCaptureSink implements CaptureSink {
  constructor(private readonly dir: string) {}

  async write(examples: readonly CaptureExample[]): Promise<void> {
    const byFile = new Map<string, string[]>();
    for (const e of examples) {
      const file = join(this.dir, safe(e.llm_finops.feature), `${e.llm_finops.ts.slice(0, 10)}.jsonl`);
      byFile.set(file, [...(byFile.get(file) ?? []), JSON.stringify(e)]);
    }
    for (const [file, lines] of byFile) {
      await mkdir(join(file, '..'), { recursive: true });
      await appendFile(file, `${lines.join('\n')}\n`);
    }
  }
}
