import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { messagesCodec, responsesCodec } from '../../lambda/adapters/lazy';
import { MemoryBatchStore } from '../../lambda/adapters/memory-batch-store';
import { MemoryExactCache } from '../../lambda/adapters/memory-exact-cache';
import { MemoryQuotaStore } from '../../lambda/adapters/memory-quota-store';
import { MemoryAlertSink, MemoryUsageSink } from '../../lambda/adapters/usage-sinks';
import { BatchService } from '../../lambda/core/batch/service';
import { resolveConfig } from '../../lambda/core/config/resolve';
import { Gateway } from '../../lambda/core/pipeline';
import { createGatewayServer } from '../../lambda/local/http-server';
import { testConfig } from './config';
import { FakeClock, ScriptedProvider, SeqIds, sha256 } from './fakes';

/**
 * A provider's batch API played by a second gateway on loopback: the Files and Batch APIs in OpenAI's shape and
 * Message Batches in Anthropic's (the shapes the real `openai` and `@anthropic-ai/sdk` clients are tested against),
 * its batches run by its simulator (`service.runDue()`) on a scripted model (`scripted`, upstream id `up-small-a`).
 */
export class BatchApiUpstream {
  readonly scripted = new ScriptedProvider();
  service!: BatchService;
  /** The server's root (`http://127.0.0.1:port`); OpenAI-shaped clients add `/v1`. */
  origin!: string;
  private server?: Server;

  async start(): Promise<void> {
    const clock = new FakeClock();
    const gateway = new Gateway({
      config: resolveConfig(testConfig('http://127.0.0.1:1/v1')), providers: new Map([['up', this.scripted]]), quota: new MemoryQuotaStore(),
      exactCache: new MemoryExactCache(100, () => clock.now()), usage: new MemoryUsageSink(), alerts: new MemoryAlertSink(), clock, ids: new SeqIds('up-'), sha256,
      // The Messages front door, as buildGateway wires it, for Message Batches.
      codecs: { messages: messagesCodec, responses: responsesCodec },
    });
    this.service = new BatchService({ gateway, store: new MemoryBatchStore(), clock, ids: new SeqIds('upb-') });
    this.server = createGatewayServer(gateway, { batches: this.service });
    await new Promise<void>((ok) => this.server!.listen(0, '127.0.0.1', ok));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((ok) => (this.server ? this.server.close(() => ok()) : ok()));
  }
}
