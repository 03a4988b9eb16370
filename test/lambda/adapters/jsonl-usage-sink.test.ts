import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonlUsageSink } from '../../../lambda/adapters/usage-sinks';
import type { UsageRecord } from '../../../lambda/core/usage';
import { usageRecord } from '../../support/attribution-data';

const lines = (file: string): string[] => readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as UsageRecord).request_id);

describe('JsonlUsageSink', () => {
  it('appends one line per record, readable as soon as write returns, on one open file', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'jsonl-sink-')), 'deep', 'usage.jsonl');
    const sink = new JsonlUsageSink(file);
    sink.write(usageRecord({ request_id: 'a' }));
    expect(lines(file)).toEqual(['a']);
    sink.write(usageRecord({ request_id: 'b' }));
    expect(lines(file)).toEqual(['a', 'b']);
    sink.close();
  });

  it('follows a rotated log: after a rename or a delete, records go to a fresh file at the path (checked at most once a second)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jsonl-sink-'));
    const file = join(dir, 'usage.jsonl');
    let now = 0;
    const sink = new JsonlUsageSink(file, () => now);
    sink.write(usageRecord({ request_id: 'before' }));
    renameSync(file, join(dir, 'usage.1.jsonl'));
    sink.write(usageRecord({ request_id: 'same-second' }));
    now = 1500;
    sink.write(usageRecord({ request_id: 'after-rename' }));
    expect(lines(join(dir, 'usage.1.jsonl'))).toEqual(['before', 'same-second']);
    expect(lines(file)).toEqual(['after-rename']);
    rmSync(file);
    now = 3000;
    sink.write(usageRecord({ request_id: 'after-delete' }));
    expect(lines(file)).toEqual(['after-delete']);
    sink.close();
  });

  it('reports a path it cannot write on stderr and never throws into the request', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jsonl-sink-'));
    const sink = new JsonlUsageSink(join(dir, 'usage.jsonl'));
    rmSync(dir, { recursive: true });
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(() => sink.write(usageRecord({ request_id: 'lost' }))).not.toThrow();
    expect(String(err.mock.calls[0][0])).toContain(`usage sink: cannot append to ${join(dir, 'usage.jsonl')}`);
    err.mockRestore();
    expect(existsSync(dir)).toBe(false);
  });
});
