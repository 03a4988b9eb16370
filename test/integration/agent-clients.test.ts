/**
 * The real coding-agent clients, unchanged, pointed at `llm-finops local` by base URL only: Claude Code (headless
 * `claude -p`, Anthropic Messages API) and Codex CLI (`codex exec`, OpenAI Responses API), against a scripted
 * upstream. Both are devDependencies (pinned; ~760 MB of native binaries from npm).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GatewayConfigInput } from '../../lambda/core/config/schema';
import { AgentUpstream } from '../support/agent-upstream';
import { hash } from '../support/config';
import { startLocal } from '../support/local';

jest.setTimeout(90_000);

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'node_modules', '.bin');
const KEY = 'sk-dev-alice';
const SMALL = 'sk-dev-small-budget';
const BROKE = 'sk-dev-broke';

function config(upstream: string): GatewayConfigInput {
  return {
    providers: [
      { type: 'anthropic', id: 'anthropic', baseUrl: upstream, apiKeyEnv: 'TEST_ANTHROPIC_KEY', timeoutMs: 5000 },
      { type: 'openai-compatible', id: 'openai', baseUrl: `${upstream}/v1`, responses: true, apiKeyEnv: 'TEST_OPENAI_KEY', timeoutMs: 5000 },
    ],
    // The clients' own model names, at the list prices they compute their own cost with (PRICES.md, December 2026).
    models: [
      { id: 'claude-opus-5-5', provider: 'anthropic', upstreamModel: 'claude-opus-5-5', price: { inputPerMTok: 4, outputPerMTok: 20, cacheWritePerMTok: 5, cacheWrite1hPerMTok: 8, cacheReadPerMTok: 0.2 }, maxOutputTokens: 128000 },
      { id: 'gpt-5.5', provider: 'openai', upstreamModel: 'gpt-5.5', price: { inputPerMTok: 5, outputPerMTok: 30, cacheReadPerMTok: 0.5 }, maxOutputTokens: 128000 },
    ],
    tiers: [{ name: 'agents', models: ['claude-opus-5-5', 'gpt-5.5'] }],
    routing: { thresholds: [{ tier: 'agents', upTo: 1 }], baselineModel: 'claude-opus-5-5', retry: { attemptsPerModel: 1, baseDelayMs: 1, maxDelayMs: 5 } },
    tenants: [
      { id: 'acme', apiKeys: [{ sha256: hash(KEY) }], limits: { dailyUsd: 100 } },
      // Claude Code asks for 128,000 output tokens: $2.56 at Opus 5.5's $20/M, more than this whole budget.
      { id: 'small', apiKeys: [{ sha256: hash(SMALL) }], limits: { dailyUsd: 0.5 } },
      { id: 'broke', apiKeys: [{ sha256: hash(BROKE) }], limits: { dailyUsd: 0.000001 } },
    ],
    usage: { sink: 'jsonl', path: 'usage.jsonl' },
  };
}

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a client in its own process group with stdin from /dev/null; kills the group if it outlives `timeoutMs`. */
function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd: string, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('real coding-agent clients through llm-finops local', () => {
  const upstream = new AgentUpstream();
  let proc: ChildProcess;
  let baseUrl: string;
  let dir: string;
  let usagePath: string;
  const records = (): Record<string, unknown>[] => readFileSync(usagePath, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

  beforeAll(async () => {
    await upstream.start();
    dir = mkdtempSync(join(tmpdir(), 'llm-finops-agents-'));
    usagePath = join(dir, 'usage.jsonl');
    writeFileSync(join(dir, 'gateway.json'), JSON.stringify(config(upstream.baseUrl)));
    ({ proc, baseUrl } = await startLocal(join(dir, 'gateway.json'), [], { ...process.env, TEST_ANTHROPIC_KEY: 'up-anthropic', TEST_OPENAI_KEY: 'up-openai' }));
  });

  afterAll(async () => {
    proc?.kill('SIGTERM');
    await upstream.stop();
  });

  beforeEach(() => upstream.reset());

  describe('Claude Code (claude -p)', () => {
    const claude = (prompt: string, key: string, cwd: string) => {
      const home = mkdtempSync(join(dir, 'home-'));
      // The package's launcher finds the platform binary whether or not its postinstall copied it over bin/claude.exe.
      return run(process.execPath, [join(ROOT, 'node_modules', '@anthropic-ai', 'claude-code', 'cli-wrapper.cjs'), '-p', prompt, '--model', 'claude-opus-5-5', '--output-format', 'json'], {
        PATH: process.env.PATH, HOME: home, ANTHROPIC_BASE_URL: baseUrl.replace(/\/v1$/, ''), ANTHROPIC_API_KEY: key,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', CLAUDE_CODE_MAX_RETRIES: '0', API_TIMEOUT_MS: '20000', DISABLE_AUTOUPDATER: '1',
      }, cwd);
    };

    it('runs a tool-use turn through the gateway and the recorded cost equals its own list-price cost to the micro-dollar', async () => {
      const work = mkdtempSync(join(dir, 'work-'));
      writeFileSync(join(work, 'notes.txt'), 'the secret word is pineapple\n');
      upstream.scriptMessages(
        {
          kind: 'message', stopReason: 'tool_use',
          blocks: [{ type: 'thinking', thinking: 'Read the file.', signature: 'sig-1' }, { type: 'tool_use', id: 'toolu_read_1', name: 'Read', input: { file_path: join(work, 'notes.txt') } }],
          usage: { input_tokens: 1200, output_tokens: 60, cache_creation_input_tokens: 9000, cache_read_input_tokens: 0, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 9000 } },
        },
        {
          kind: 'message', blocks: [{ type: 'text', text: 'The secret word is pineapple.' }],
          usage: { input_tokens: 300, output_tokens: 12, cache_creation_input_tokens: 400, cache_read_input_tokens: 9000, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 400 } },
        },
      );
      const r = await claude('What is the secret word in notes.txt?', KEY, work);
      const out = JSON.parse(r.stdout) as { result: string; total_cost_usd: number; is_error: boolean };
      expect(out.is_error).toBe(false);
      expect(out.result).toBe('The secret word is pineapple.');
      const calls = upstream.received.filter((q) => q.path.startsWith('/v1/messages') && !q.path.includes('count_tokens'));
      expect(calls).toHaveLength(2);
      // The tool ran on the client and its result came back through the gateway, beside the signed thinking block.
      const second = JSON.stringify(calls[1].body.messages);
      expect(second).toContain('pineapple');
      expect(second).toContain('sig-1');
      expect(calls[0].headers['x-api-key']).toBe('up-anthropic');
      expect(calls[0].body.max_tokens).toBe(128000);
      const mine = records().filter((x) => x.api === 'messages' && x.status === 200);
      const micros = mine.reduce((n, x) => n + (x.cost_micros as number), 0);
      expect(micros).toBe(Math.round(out.total_cost_usd * 1e6));
      // 1200x4 + 60x20 + 9000x8 (1-hour writes) | 300x4 + 12x20 + 400x8 + 9000x0.2, micro-dollars
      expect(micros).toBe(4800 + 1200 + 72000 + 1200 + 240 + 3200 + 1800);
      expect(new Set(mine.map((x) => x.end_user)).size).toBe(1);
    });

    it('works on a budget smaller than one request\'s cap: the cap is fitted, the answer arrives, nothing overshoots', async () => {
      upstream.scriptMessages({ kind: 'message', blocks: [{ type: 'text', text: 'Small but done.' }], usage: { input_tokens: 2000, output_tokens: 300 } });
      const r = await claude('hello', SMALL, dir);
      const out = JSON.parse(r.stdout) as { result: string; is_error: boolean };
      expect(out.is_error).toBe(false);
      expect(out.result).toBe('Small but done.');
      const sent = upstream.received.find((q) => q.path.startsWith('/v1/messages'))!;
      // A quarter of $0.50 after the input (its ~12k estimated tokens priced as 1-hour cache writes, as Claude Code
      // marks them), at $20/M: far below the 128,000 Claude Code asked for, at least the 1,024-token minimum.
      expect(sent.body.max_tokens).toBeLessThan(6250);
      expect(sent.body.max_tokens).toBeGreaterThanOrEqual(1024);
      expect(records().at(-1)).toMatchObject({ api: 'messages', quota_action: 'output_fitted', status: 200 });
    });

    it('shows the tenant\'s 429 when the money is gone, and nothing reaches the upstream', async () => {
      const r = await claude('hello', BROKE, dir);
      const out = JSON.parse(r.stdout) as { result: string; is_error: boolean };
      expect(out.is_error).toBe(true);
      expect(out.result).toMatch(/429|Quota exceeded|rate limit/i);
      expect(upstream.received).toHaveLength(0);
    });
  });

  describe('Codex CLI (codex exec, wire_api = "responses")', () => {
    const codex = (prompt: string, key: string) => {
      const home = mkdtempSync(join(dir, 'codex-'));
      mkdirSync(home, { recursive: true });
      writeFileSync(join(home, 'config.toml'), [
        'model = "gpt-5.5"', 'model_provider = "gateway"', '[model_providers.gateway]', 'name = "llm-finops"',
        `base_url = "${baseUrl}"`, 'env_key = "GATEWAY_KEY"', 'wire_api = "responses"', 'request_max_retries = 0', 'stream_max_retries = 0',
      ].join('\n'));
      return run(join(BIN, 'codex'), ['exec', '--skip-git-repo-check', prompt], { PATH: process.env.PATH, HOME: home, CODEX_HOME: home, GATEWAY_KEY: key }, dir);
    };

    it('answers through the Responses passthrough and records the cost from the final usage', async () => {
      upstream.scriptResponses({ kind: 'response', text: 'Hello from the gateway.', usage: { input: 9000, cached: 6000, output: 40, reasoning: 10 } });
      const r = await codex('say hello', KEY);
      expect(r.stdout).toContain('Hello from the gateway.');
      const call = upstream.received.find((q) => q.path === '/v1/responses')!;
      expect(call.headers.authorization).toBe('Bearer up-openai');
      expect(call.body).toMatchObject({ model: 'gpt-5.5', stream: true, store: false });
      // 3000 x $5 + 6000 x $0.50 + 40 x $30, per 1M tokens
      expect(records().at(-1)).toMatchObject({ api: 'responses', status: 200, cost_micros: 15000 + 3000 + 1200, input_tokens: 3000, cache_read_tokens: 6000 });
    });

    it('round-trips a function call: the command runs on the client and its output comes back', async () => {
      upstream.scriptResponses(
        { kind: 'response', call: { id: 'call_echo_1', name: 'exec_command', arguments: JSON.stringify({ cmd: 'echo gateway-tool-output' }) }, usage: { input: 500, cached: 0, output: 20 } },
        { kind: 'response', text: 'The command printed gateway-tool-output.', usage: { input: 700, cached: 0, output: 15 } },
      );
      const r = await codex('run echo', KEY);
      expect(r.stdout).toContain('The command printed gateway-tool-output.');
      const calls = upstream.received.filter((q) => q.path === '/v1/responses');
      expect(calls).toHaveLength(2);
      const output = (calls[1].body.input as { type?: string; call_id?: string; output?: unknown }[]).find((i) => i.type === 'function_call_output' && i.call_id === 'call_echo_1');
      expect(JSON.stringify(output?.output)).toContain('gateway-tool-output');
    });

    it('shows the tenant\'s 429 when the money is gone, and nothing reaches the upstream', async () => {
      const r = await codex('say hello', BROKE);
      expect(`${r.stdout}\n${r.stderr}`).toMatch(/429|Quota exceeded/i);
      expect(upstream.received).toHaveLength(0);
    });
  });
});
