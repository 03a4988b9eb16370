#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildGateway } from '../lambda/adapters/wiring';
import { sha256 } from '../lambda/adapters/system-runtime';
import { ConfigError, resolveConfig, type ResolvedConfig } from '../lambda/core/config/resolve';
import { createGatewayServer } from '../lambda/local/http-server';

const USAGE = `llm-finops — cost controls for LLM traffic

Usage:
  llm-finops local --config FILE [--port 8787] [--host 127.0.0.1]
      Serve the OpenAI-compatible gateway locally (POST /v1/chat/completions, GET /v1/models, /v1/usage, /health).
  llm-finops config validate --config FILE
      Validate a gateway config; prints every invalid field.
  llm-finops hash-key KEY
      Print the SHA-256 of an API key, for tenants[].apiKeys[].sha256.
`;

/** Reads and validates a config file; a relative usage.path is taken relative to the file. */
export function loadConfigFile(file: string): ResolvedConfig {
  const raw = JSON.parse(readFileSync(file, 'utf8'));
  if (raw?.usage?.path && !isAbsolute(raw.usage.path)) raw.usage.path = resolve(dirname(file), raw.usage.path);
  return resolveConfig(raw);
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd ? 0 : 1;
  }
  if (cmd === 'hash-key') {
    if (rest.length !== 1) throw new UsageError('hash-key takes exactly one KEY');
    process.stdout.write(`${sha256(rest[0])}\n`);
    return 0;
  }
  if (cmd === 'config' && rest[0] === 'validate') {
    const { values } = parseArgs({ args: rest.slice(1), options: { config: { type: 'string' } } });
    if (!values.config) throw new UsageError('--config FILE is required');
    const cfg = loadConfigFile(values.config);
    process.stdout.write(`ok: ${cfg.models.size} models, ${cfg.tiers.size} tiers, ${cfg.tenants.size} tenants\n`);
    return 0;
  }
  if (cmd === 'local') {
    const { values } = parseArgs({
      args: rest,
      options: { config: { type: 'string' }, port: { type: 'string', default: '8787' }, host: { type: 'string', default: '127.0.0.1' } },
    });
    if (!values.config) throw new UsageError('--config FILE is required');
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535, got ${values.port}`);
    const config = loadConfigFile(values.config);
    const gateway = buildGateway(config, { env: process.env, warn: (m) => process.stderr.write(`warning: ${m}\n`) });
    const server = createGatewayServer(gateway);
    await new Promise<void>((ok, fail) => server.once('error', fail).listen(port, values.host, ok));
    const addr = server.address();
    const actual = typeof addr === 'object' && addr ? addr.port : port;
    process.stdout.write(`llm-finops gateway listening on http://${values.host}:${actual}/v1 (${config.tenants.size} tenants, usage sink: ${config.raw.usage.sink}${config.raw.usage.path ? ` ${config.raw.usage.path}` : ''})\n`);
    const stop = (): void => {
      server.close(() => process.exit(0));
      server.closeAllConnections();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    return new Promise<number>(() => undefined);
  }
  throw new UsageError(`unknown command '${cmd}'`);
}

class UsageError extends Error {}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
      else if (err instanceof UsageError) process.stderr.write(`error: ${err.message}\n\n${USAGE}`);
      else process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}
