import type { Writable } from 'node:stream';

/**
 * Writes a chunk and, when the stream asks us to wait, waits for 'drain', 'close' or 'error', whichever comes first,
 * removing every listener it added. Resolves false when the stream can take no more (the client went away), so a
 * slow client that disconnects under back-pressure ends the response instead of hanging it, and a long stream does
 * not pile up 'close' listeners.
 */
export async function writeChunk(stream: Writable, chunk: string): Promise<boolean> {
  if (stream.destroyed || stream.writableEnded) return false;
  // Frames written in the same turn of the event loop (an upstream read that held many chunks) leave in one write
  // rather than one system call each: corked now, uncorked once this turn's promise jobs have run, so no frame waits
  // for later input.
  if (!stream.writableCorked) {
    stream.cork();
    process.nextTick(() => stream.uncork());
  }
  if (stream.write(chunk)) return true;
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => (): void => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      stream.off('error', onClose);
      resolve(ok);
    };
    const onDrain = done(true);
    const onClose = done(false);
    stream.on('drain', onDrain);
    stream.on('close', onClose);
    stream.on('error', onClose);
  });
}
