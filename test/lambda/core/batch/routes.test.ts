import { MemoryBatchStore } from '../../../../lambda/adapters/memory-batch-store';
import { MemoryQuotaStore } from '../../../../lambda/adapters/memory-quota-store';
import { MemoryAlertSink, MemoryUsageSink } from '../../../../lambda/adapters/usage-sinks';
import { matchBatchRoute } from '../../../../lambda/core/batch/route-match';
import { batchEdge } from '../../../../lambda/core/batch/routes';
import { BatchService } from '../../../../lambda/core/batch/service';
import { resolveConfig } from '../../../../lambda/core/config/resolve';
import { serveEdge, type EdgeRequest } from '../../../../lambda/core/edge';
import { Gateway, type JsonResult } from '../../../../lambda/core/pipeline';
import { KEYS, testConfig } from '../../../support/config';
import { FakeClock, ScriptedProvider, SeqIds, sha256 } from '../../../support/fakes';

function edge() {
  const clock = new FakeClock();
  const gateway = new Gateway({
    config: resolveConfig(testConfig('http://127.0.0.1:1/v1')), providers: new Map([['up', new ScriptedProvider()]]), quota: new MemoryQuotaStore(),
    usage: new MemoryUsageSink(), alerts: new MemoryAlertSink(), clock, ids: new SeqIds(), sha256,
  });
  const batches = new BatchService({ gateway, store: new MemoryBatchStore(), clock, ids: new SeqIds('b-') });
  const send = (method: string, path: string, body = '', headers: Record<string, string> = {}, withBatches = true) => {
    const h: Record<string, string> = { authorization: `Bearer ${KEYS.acme}`, ...headers };
    const req: EdgeRequest = { method, path, header: (n) => h[n], body: async () => ({ text: body, bytes: Buffer.byteLength(body) }) };
    return serveEdge(gateway, req, withBatches ? batchEdge(batches) : undefined) as Promise<JsonResult>;
  };
  return { send };
}

const multipart = (parts: { name: string; filename?: string; value: string }[], boundary = 'xyzzy') => ({
  body: parts.map((p) => `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}\r\n\r\n${p.value}\r\n`).join('') + `--${boundary}--\r\n`,
  type: `multipart/form-data; boundary=${boundary}`,
});

describe('the Files and Batch API routes at the edge', () => {
  it('maps paths and methods, ids decoded, query kept; 405 names the methods a known path takes', () => {
    expect(matchBatchRoute('GET', '/v1/batches/batch_1?x=1')).toMatchObject({ op: 'batches.get', id: 'batch_1' });
    expect(matchBatchRoute('POST', '/v1/batches/batch_1/cancel')).toMatchObject({ op: 'batches.cancel', id: 'batch_1' });
    expect(matchBatchRoute('GET', '/v1/batches?limit=5&after=b')!.query.get('limit')).toBe('5');
    expect(matchBatchRoute('GET', '/v1/files/file-1/content')).toMatchObject({ op: 'files.content', id: 'file-1' });
    expect(matchBatchRoute('POST', '/v1/chat/completions')).toBeUndefined();
    expect(() => matchBatchRoute('PUT', '/v1/files')).toThrow(/Method PUT is not allowed on \/v1\/files; use POST or GET/);
  });

  it('uploads a multipart file, then serves it back as JSONL; refuses an upload without a file part or not multipart', async () => {
    const { send } = edge();
    const line = JSON.stringify({ custom_id: 'a', method: 'POST', url: '/v1/chat/completions', body: { model: 'small-a', messages: [{ role: 'user', content: 'hi' }] } });
    const up = multipart([{ name: 'purpose', value: 'batch' }, { name: 'file', filename: 'in.jsonl', value: line }]);
    const file = await send('POST', '/v1/files', up.body, { 'content-type': up.type });
    expect(file).toMatchObject({ status: 200, body: { object: 'file', filename: 'in.jsonl', purpose: 'batch', bytes: Buffer.byteLength(line) } });
    const id = (file.body as { id: string }).id;
    const content = (await send('GET', `/v1/files/${id}/content`)) as unknown as { kind: string; headers: Record<string, string>; body: AsyncIterable<string> };
    let text = '';
    for await (const chunk of content.body) text += chunk;
    expect([content.kind, content.headers['content-type'], text]).toEqual(['stream', 'application/jsonl', line]);
    const noFile = multipart([{ name: 'purpose', value: 'batch' }]);
    expect(await send('POST', '/v1/files', noFile.body, { 'content-type': noFile.type })).toMatchObject({ status: 400, body: { error: { code: 'missing_file', param: 'file' } } });
    expect(await send('POST', '/v1/files', line, { 'content-type': 'application/json' })).toMatchObject({ status: 400, body: { error: { code: 'invalid_content_type' } } });
    expect(await send('GET', '/v1/files/file-none')).toMatchObject({ status: 404 });
  });

  it('answers 404 batch_api_disabled where no batch service is wired (the Lambda router today), after authentication', async () => {
    const { send } = edge();
    expect(await send('GET', '/v1/batches', '', {}, false)).toMatchObject({ status: 404, body: { error: { code: 'batch_api_disabled' } } });
    expect(await send('GET', '/v1/batches', '', { authorization: 'Bearer wrong' }, false)).toMatchObject({ status: 401 });
  });
});
