import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadArtefacts } from '../../lambda/adapters/artefacts';
import { DynamoDbTenantDirectory } from '../../lambda/adapters/dynamodb-tenant-directory';
import { SENTENCE_PACKAGES, SentenceEmbedder, sentenceEncoderInstalled } from '../../lambda/adapters/sentence-embedder';
import { sha256, systemClock, systemIds } from '../../lambda/adapters/system-runtime';
import { buildGateway, providerKey } from '../../lambda/adapters/wiring';
import { BedrockBatchJobs } from '../../lambda/adapters/bedrock-batch-jobs';
import { AnthropicBatchJobs } from '../../lambda/adapters/anthropic-batch-jobs';
import { OpenAiBatchJobs } from '../../lambda/adapters/openai-batch-jobs';
import { anyOfJobs } from '../../lambda/core/batch/jobs';
import { lifecycleWarnings, resolveConfig, type ResolvedConfig } from '../../lambda/core/config/resolve';
import { createGatewayServer } from '../../lambda/local/http-server';
import { BatchService } from '../../lambda/core/batch/service';
import { DirectoryBatchStore } from '../../lambda/adapters/directory-batch-store';
import { MemoryBatchStore } from '../../lambda/adapters/memory-batch-store';
import { action, integerIn, UsageError } from '../cli-support';
import { dynamoFromFlags, storeFromFlags, withStoreOptions, type StoreFlags } from '../store-flags';

/**
 * Reads and validates a config file; a relative usage.path is taken relative to the file. `local` passes `forLocal`:
 * a semantic cache whose config names no embedder gets the offline sentence encoder when its optional packages are
 * installed (they come with the CLI package), else the lexical one with a warning.
 */
export function loadConfigFile(file: string, forLocal?: { warn: (message: string) => void }): ResolvedConfig {
  let raw;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`--config ${file}: ${(err as Error).message}`);
  }
  if (raw?.usage?.path && !isAbsolute(raw.usage.path)) raw.usage.path = resolve(dirname(file), raw.usage.path);
  const semantic = raw?.cache?.semantic;
  if (forLocal && semantic && typeof semantic === 'object' && semantic.enabled === true && semantic.embedder === undefined) {
    if (sentenceEncoderInstalled()) semantic.embedder = { type: 'sentence' };
    else forLocal.warn(`semantic cache: the sentence encoder's optional packages (${SENTENCE_PACKAGES.join(', ')}) are not installed; using the lexical embedder, which misses paraphrases in other words`);
  }
  return resolveConfig(raw);
}

/** `local`, `config validate`, `hash-key`: running and configuring the gateway. */
export function registerGatewayCommands(program: Command): void {
  withStoreOptions(
    program
      .command('local')
      .summary('serve the OpenAI-compatible gateway locally')
      .description("Serve the OpenAI-compatible gateway locally: POST /v1/chat/completions, /v1/messages, /v1/responses, /v1/embeddings, /v1/feedback, GET /v1/models, /v1/usage, /health, the Files and Batch APIs (/v1/files, /v1/batches) and Anthropic's Message Batches (/v1/messages/batches): a simulator runs each batch through the gateway at the batch price, or --batch-jobs the providers' own batch jobs. Stops on SIGINT/SIGTERM.")
      .requiredOption('--config <file>', 'gateway config (JSON; see schema/gateway-config.schema.json)')
      .option('--port <n>', 'port (0: any free port)', integerIn(0, 65535), 8787)
      .option('--host <host>', 'address to listen on', '127.0.0.1')
      .option('--batch-dir <dir>', 'keep the batch API\'s files and batches in this directory, so batches outlive the process (default: in memory)')
      .option('--batch-delay <seconds>', 'the batch simulator waits this long after a batch is created before it runs its lines', integerIn(0, 86_400), 5)
      .option('--batch-jobs', 'run batches as the providers\' own batch jobs at their batch price (OpenAI\'s Batch API and Anthropic\'s Message Batches on providers with batchApi; Bedrock batch inference with --bedrock-batch-bucket and --bedrock-batch-role) instead of the simulator')
      .option('--bedrock-batch-bucket <name>', 'with --batch-jobs: the S3 bucket Bedrock batch jobs read and write (prefix batches/)')
      .option('--bedrock-batch-role <arn>', 'with --batch-jobs: the service role Bedrock assumes for the bucket'),
  ).action(
    action<{ config: string; port: number; host: string; batchDir?: string; batchDelay: number; batchJobs?: boolean; bedrockBatchBucket?: string; bedrockBatchRole?: string } & StoreFlags>(async (o) => {
      const warn = (m: string): void => void process.stderr.write(`warning: ${m}\n`);
      const config = loadConfigFile(o.config, { warn });
      for (const w of lifecycleWarnings(config, Date.now())) warn(w);
      const sem = config.raw.cache.semantic;
      // Loaded before listening (about a second), so the first request does not wait and a missing package stops start-up.
      if (sem.enabled && sem.embedder.type === 'sentence') await new SentenceEmbedder().warm();
      const dynamo = await dynamoFromFlags(o);
      const quota = await storeFromFlags(o);
      const tenants = dynamo ? new DynamoDbTenantDirectory(dynamo.client, dynamo.table) : undefined;
      const baseDir = dirname(resolve(o.config));
      const artefacts = await loadArtefacts(config, { baseDir });
      const gateway = buildGateway(config, { env: process.env, quota, tenants, baseDir, artefacts, warn });
      const dir = o.batchDir ? new DirectoryBatchStore(resolve(o.batchDir)) : undefined;
      let unlock = (): void => undefined;
      try {
        if (dir) unlock = await dir.lock();
      } catch (err) {
        throw new UsageError(`--batch-dir: ${(err as Error).message}`);
      }
      if (!o.batchJobs && (o.bedrockBatchBucket || o.bedrockBatchRole)) throw new UsageError('--bedrock-batch-bucket and --bedrock-batch-role go with --batch-jobs');
      if (!!o.bedrockBatchBucket !== !!o.bedrockBatchRole) throw new UsageError('--bedrock-batch-bucket and --bedrock-batch-role go together');
      const jobs = o.batchJobs
        ? anyOfJobs(
          new OpenAiBatchJobs(config, (p) => providerKey(p, { env: process.env, artefacts, warn })),
          new AnthropicBatchJobs(config, (p) => providerKey(p, { env: process.env, artefacts, warn })),
          ...(o.bedrockBatchBucket ? [new BedrockBatchJobs({ bucket: o.bedrockBatchBucket, prefix: 'batches/', roleArn: o.bedrockBatchRole! })] : []),
        )
        : undefined;
      const batches = new BatchService({ gateway, store: dir ?? new MemoryBatchStore(), clock: systemClock, ids: systemIds, delayMs: o.batchDelay * 1000, jobs,
        onError: (id, err) => warn(`batch ${id ?? '(listing)'}: ${err instanceof Error ? err.message : String(err)}; retried on the next tick`),
      });
      // Picks up the batches a stopped gateway left running (with --batch-dir), then the new ones as they fall due.
      batches.start();
      const server = createGatewayServer(gateway, { batches });
      await new Promise<void>((ok, fail) => server.once('error', fail).listen(o.port, o.host, ok));
      const addr = server.address();
      const actual = typeof addr === 'object' && addr ? addr.port : o.port;
      process.stdout.write(
        `llm-finops gateway listening on http://${o.host}:${actual}/v1 (${config.tenants.size} tenants, quota store: ${o.store}, ` +
          `usage sink: ${config.raw.usage.sink}${config.raw.usage.path ? ` ${config.raw.usage.path}` : ''}` +
          `${sem.enabled ? `, semantic cache: ${sem.embedder.type} embedder at ${config.semanticCache.threshold}` : ''})\n`,
      );
      const stop = (): void => {
        void batches.stop();
        unlock();
        server.close(() => {
          // The embedded index saves its graphs here, so the next start loads them instead of rebuilding.
          gateway.close().then(() => process.exit(0), (err: unknown) => {
            process.stderr.write(`shutdown: ${err instanceof Error ? err.message : String(err)}\n`);
            process.exit(1);
          });
        });
        server.closeAllConnections();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await new Promise<never>(() => undefined);
    }),
  );

  program
    .command('config')
    .summary('check a gateway config')
    .command('validate')
    .description('Validate a gateway config: prints every invalid field (exit 1), and warnings for retired or retiring models.')
    .requiredOption('--config <file>', 'gateway config (JSON)')
    .action(
      action<{ config: string }>((o) => {
        const cfg = loadConfigFile(o.config);
        for (const w of lifecycleWarnings(cfg, Date.now())) process.stderr.write(`warning: ${w}\n`);
        process.stdout.write(`ok: ${cfg.models.size} models, ${cfg.tiers.size} tiers, ${cfg.tenants.size} tenants\n`);
      }),
    );

  program
    .command('hash-key')
    .summary('print the SHA-256 of an API key')
    .description('Print the SHA-256 of an API key, for tenants[].apiKeys[].sha256 in the config.')
    .argument('<key>', 'the API key')
    .action(
      action<object>((_o, [key]) => {
        process.stdout.write(`${sha256(key)}\n`);
      }),
    );
}
