import { PassThrough, Writable } from 'node:stream';
import { writeChunk } from '../../../lambda/adapters/backpressure';

describe('writeChunk', () => {
  it('waits for drain under back-pressure and leaves no listener behind, however many chunks', async () => {
    const slow = new Writable({ highWaterMark: 4, write: (_c, _e, cb) => setImmediate(cb) });
    const base = { close: slow.listenerCount('close'), drain: slow.listenerCount('drain'), error: slow.listenerCount('error') };
    for (let i = 0; i < 500; i++) expect(await writeChunk(slow, 'chunk of text')).toBe(true);
    // The local server once added a 'close' listener per waited chunk (MaxListenersExceededWarning past 10).
    expect({ close: slow.listenerCount('close'), drain: slow.listenerCount('drain'), error: slow.listenerCount('error') }).toEqual(base);
  });

  it('resolves false when the client goes away while the stream waits, instead of hanging', async () => {
    const stuck = new PassThrough({ highWaterMark: 4 });
    const pending = writeChunk(stuck, 'more than four bytes');
    stuck.destroy();
    expect(await pending).toBe(false);
    expect(await writeChunk(stuck, 'after')).toBe(false);
  });
});
