import { SingleBar, Presets } from 'cli-progress';

/** Progress of a long-running command: a bar on a terminal, nothing otherwise. */
export type Progress = { update(done: number, total?: number, label?: string): void; stop(): void };

const SILENT: Progress = { update: () => undefined, stop: () => undefined };

/**
 * A progress bar on stderr (cli-progress: throttled redraws, ETA, clears cleanly) when stderr is a terminal and the
 * command does not print JSON; silent otherwise, so pipes, logs and --json output stay clean.
 */
export function progressBar(label: string, total: number, opts: { json?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  if (opts.json || !stream.isTTY || process.env.CI) return SILENT;
  const bar = new SingleBar(
    { stream, format: '{label} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted}', hideCursor: true, clearOnComplete: true, etaBuffer: 50 },
    Presets.shades_classic,
  );
  bar.start(total, 0, { label });
  return {
    update(done, newTotal, newLabel) {
      if (newTotal !== undefined && newTotal !== bar.getTotal()) bar.setTotal(newTotal);
      bar.update(done, newLabel ? { label: newLabel } : undefined);
    },
    stop: () => bar.stop(),
  };
}
