import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../bin/llm-finops';
import { DirectoryCaptureSink } from '../../lambda/adapters/directory-capture-sink';
import { MemoryQuotaStore } from '../../lambda/adapters/memory-quota-store';
import { JsonlUsageSink, MemoryAlertSink } from '../../lambda/adapters/usage-sinks';
import { Capture } from '../../lambda/core/capture/capture';
import { resolveConfig } from '../../lambda/core/config/resolve';
import type { GatewayConfigInput } from '../../lambda/core/config/schema';
import type { ChatCompletion } from '../../lambda/core/openai/types';
import { Gateway } from '../../lambda/core/pipeline';
import type { ChatProvider, ProviderCall, ProviderResponse, ProviderStreamEvent } from '../../lambda/core/ports';
import { normaliseLabel } from '../../lambda/core/routing/cascade';
import { FakeClock, SeqIds, sha256 } from './fakes';

/**
 * The small-model loop of issue 36 end to end, on a synthetic but realistic workload: a ticket classifier and an
 * invoice extractor (plus free-text chat and a rare feature) answered by a scripted premium model that is always
 * right, and a scripted small model wrong on a known share of requests (half of its errors malformed: a label outside
 * the set, text instead of JSON; half well-formed and wrong: another label, a wrong total). Three phases through the
 * real gateway pipeline, with the real CLI reading what it wrote:
 *
 * 1. a month of premium traffic, captured (`distill plan` over the usage log and the capture folder);
 * 2. shadow tests of the small model on both features (`distill report`);
 * 3. both features switched to the small model behind their guards (labels, JSON Schema), the shadow policy reversed
 *    with `switchBack`; served answers compared with the truth and the features' cost with phase 1's.
 */

export const LABELS = ['billing', 'bug', 'account', 'other'] as const;
type Label = (typeof LABELS)[number];

/** Premium (Claude Sonnet 4.5's list price) and the small model on demand, per 1M tokens. */
export const PRICES = { premium: { inputPerMTok: 3, outputPerMTok: 15 }, small: { inputPerMTok: 0.1, outputPerMTok: 0.4 } } as const;

const TICKETS_SYSTEM = `Classify the support ticket. Answer with one word: ${LABELS.join(', ')}.`;
const INVOICES_SYSTEM = 'Extract the invoice as JSON with the fields invoice (string), vendor (string), total (number) and currency (string). Answer with the JSON only.';

const TICKET_TEMPLATES: Record<Label, readonly string[]> = {
  billing: ['I was charged {n} times for order #{id} this month.', 'My invoice {id} shows the wrong VAT amount.', 'Why did my card get billed {n} dollars on renewal?', 'Please refund the duplicate payment for subscription {id}.'],
  bug: ['The export button crashes the app on page {n}.', 'Error {id} when I upload a CSV with {n} rows.', 'The dashboard never loads after the update to {n}.{n}.', 'Search returns nothing for order #{id} although it exists.'],
  account: ['I cannot reset my password, the link for user {id} expired.', 'Please add {n} seats to our team account {id}.', 'How do I change the owner of workspace {id}?', 'My login is locked after {n} attempts.'],
  other: ['Do you have an office in Lisbon? Asking for meeting {id}.', 'Is there a student discount for {n} people?', 'Can I get a copy of your security whitepaper {id}?', 'Thanks for the quick help with case {id}!'],
};
const VENDORS = ['Acme Supplies', 'Northwind Traders', 'Globex GmbH', 'Initech Ltd', 'Umbrella Office', 'Stark Parts'];
const CURRENCIES = ['EUR', 'USD', 'GBP'];
const CHAT = ['Summarise the main risks of our Q3 launch plan in a paragraph.', 'hi', 'Write a haiku about invoices.', 'Explain step by step how to migrate a Postgres database with zero downtime, with code.'];

/** A deterministic pseudo-random stream (mulberry32), so a run is the same every time. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Item { readonly feature: string; readonly system?: string; readonly text: string; readonly truth: string }

function ticket(r: () => number, i: number): Item {
  const label = LABELS[Math.floor(r() * LABELS.length)];
  const templates = TICKET_TEMPLATES[label];
  const text = templates[Math.floor(r() * templates.length)].replace(/\{n\}/g, () => String(2 + Math.floor(r() * 9))).replace('{id}', `T-${10_000 + i}`);
  return { feature: 'tickets', system: TICKETS_SYSTEM, text, truth: label };
}

function invoice(r: () => number, i: number): Item {
  const inv = { invoice: `INV-${20_000 + i}`, vendor: VENDORS[Math.floor(r() * VENDORS.length)], total: Math.round(r() * 500_000) / 100, currency: CURRENCIES[Math.floor(r() * CURRENCIES.length)] };
  const text = `From: billing@${inv.vendor.toLowerCase().replace(/\W+/g, '')}.example\nInvoice ${inv.invoice}, issued ${1 + (i % 28)} November 2026.\nAmount due: ${inv.total.toFixed(2)} ${inv.currency}. Payment within 30 days.`;
  return { feature: 'invoices', system: INVOICES_SYSTEM, text, truth: JSON.stringify(inv) };
}

function chat(r: () => number): Item {
  return { feature: 'chat', text: CHAT[Math.floor(r() * CHAT.length)], truth: '' };
}

/** The small model's share of wrong answers, and which: a hash of the prompt decides, so every phase agrees. */
export const SMALL_ERROR_RATE = 0.12;
function smallVerdict(prompt: string): 'right' | 'malformed' | 'wrong' {
  const h = createHash('sha256').update(prompt).digest().readUInt32BE(0) / 2 ** 32;
  return h >= SMALL_ERROR_RATE ? 'right' : h < SMALL_ERROR_RATE / 2 ? 'malformed' : 'wrong';
}

const tokens = (s: string): number => Math.max(1, Math.ceil(s.length / 4));

/**
 * The upstream of both models: the premium model answers every item right (its truth, a long answer for chat); the
 * small model answers by smallVerdict. Usage is the text's length in 4-character tokens.
 */
export class ScriptedModels implements ChatProvider {
  constructor(private readonly truthOf: ReadonlyMap<string, Item>) {}

  private answer(call: ProviderCall): { text: string; input: number } {
    const messages = call.request.messages as { role: string; content: string }[];
    const prompt = messages.map((m) => m.content).join('\n');
    const user = messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
    const item = this.truthOf.get(user);
    if (!item) throw new Error(`scripted models: unknown prompt ${JSON.stringify(user.slice(0, 40))}`);
    const small = call.model.config.upstreamModel === 'up-small';
    if (item.feature === 'chat' || item.feature === 'rare') {
      // Free text of any length: a greeting gets a line, a migration plan pages.
      const words = user.length < 5 ? 8 : user.includes('step by step') ? 1500 : 120;
      return { text: Array.from({ length: words }, (_, k) => `word${k}`).join(' '), input: tokens(prompt) };
    }
    const verdict = small ? smallVerdict(user) : 'right';
    if (verdict === 'right') return { text: item.truth, input: tokens(prompt) };
    if (item.feature === 'tickets') {
      const other = LABELS[(LABELS.indexOf(item.truth as Label) + 1) % LABELS.length];
      return { text: verdict === 'malformed' ? `This looks like a ${other} question to me.` : other, input: tokens(prompt) };
    }
    const inv = JSON.parse(item.truth) as { total: number };
    return {
      text: verdict === 'malformed' ? `The invoice total is ${inv.total}.` : JSON.stringify({ ...JSON.parse(item.truth), total: Math.round((inv.total + 10) * 100) / 100 }),
      input: tokens(prompt),
    };
  }

  async complete(call: ProviderCall): Promise<ProviderResponse> {
    const { text, input } = this.answer(call);
    const completion: ChatCompletion = {
      id: 'chatcmpl-loop', object: 'chat.completion', created: 1, model: call.model.config.upstreamModel,
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    };
    return { completion, usage: { inputTokens: input, outputTokens: tokens(text), cacheReadTokens: 0, cacheWriteTokens: 0 } };
  }

  // eslint-disable-next-line require-yield
  async *stream(): AsyncGenerator<ProviderStreamEvent> {
    throw new Error('the loop sends no streamed requests');
  }
}

function baseConfig(capturePath: string): GatewayConfigInput {
  return {
    providers: [{ type: 'openai-compatible', id: 'up', baseUrl: 'http://127.0.0.1:1/v1' }],
    models: [
      { id: 'premium', provider: 'up', upstreamModel: 'up-premium', price: PRICES.premium, maxOutputTokens: 4000 },
      { id: 'small', provider: 'up', upstreamModel: 'up-small', price: PRICES.small, maxOutputTokens: 4000 },
    ],
    // Every automatic route goes to the premium model: the month before any small model.
    tiers: [{ name: 'top', models: ['premium'] }],
    routing: { thresholds: [{ tier: 'top', upTo: 1 }], baselineModel: 'premium' },
    tenants: [{ id: 'acme', apiKeys: [], captureConsent: true }],
    // A queue as long as the run: the loop sends faster than the folder is written, and a dropped example would only
    // lower the counts the plan reads.
    capture: { features: ['tickets', 'invoices', 'chat', 'rare'].map((feature) => ({ feature, sampleRate: 1, maxPerDay: 100_000 })), path: capturePath, queueSize: 100_000 },
    quota: { defaults: { dailyUsd: 100_000, monthlyUsd: 1_000_000 } },
    // Every request is new: no exact-cache hit hides a model call.
    cache: { exact: { enabled: false }, semantic: { enabled: false } },
  } as GatewayConfigInput;
}

/** The switch: each feature to a cascade tier (small first, premium last) whose check is its guard. */
function switchedConfig(capturePath: string, shadowRate: number): GatewayConfigInput {
  const base = baseConfig(capturePath);
  return {
    ...base,
    tiers: [
      ...(base.tiers as NonNullable<GatewayConfigInput['tiers']>),
      { name: 'tickets-small', models: ['small', 'premium'], mode: 'cascade', cascade: { checks: ['empty', 'labels'], labels: [...LABELS] } },
      {
        name: 'invoices-small', models: ['small', 'premium'], mode: 'cascade',
        cascade: { checks: ['empty', 'json'], schema: { type: 'object', required: ['invoice', 'vendor', 'total', 'currency'], properties: { invoice: { type: 'string' }, vendor: { type: 'string' }, total: { type: 'number' }, currency: { type: 'string', enum: CURRENCIES } } } },
      },
    ],
    routing: { ...base.routing!, features: { tickets: 'tickets-small', invoices: 'invoices-small' } },
    shadow: {
      policies: [
        { feature: 'tickets', model: 'premium', sampleRate: shadowRate, scorer: 'exact', maxPerDay: 100_000, switchBack: { below: 0.8, window: 100, minSamples: 30 } },
        { feature: 'invoices', model: 'premium', sampleRate: shadowRate, scorer: 'json-fields', maxPerDay: 100_000, switchBack: { below: 0.8, window: 100, minSamples: 30 } },
      ],
    },
  } as GatewayConfigInput;
}

function shadowConfig(capturePath: string): GatewayConfigInput {
  return {
    ...baseConfig(capturePath),
    shadow: {
      policies: [
        { feature: 'tickets', model: 'small', sampleRate: 1, scorer: 'exact', maxPerDay: 100_000 },
        { feature: 'invoices', model: 'small', sampleRate: 1, scorer: 'json-fields', maxPerDay: 100_000 },
      ],
    },
  } as GatewayConfigInput;
}

/** Runs a CLI command and returns its JSON output. */
async function cliJson(args: readonly string[]): Promise<unknown> {
  let out = '';
  let err = '';
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string | Uint8Array) => ((out += String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => ((err += String(s)), true)) as typeof process.stderr.write;
  try {
    const code = await runCli(args);
    if (code !== 0) throw new Error(`llm-finops ${args.join(' ')} exited ${code}: ${err}`);
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
  return JSON.parse(out);
}

export interface LoopOptions {
  readonly dir: string;
  /** Requests in the month of premium traffic, per feature. */
  readonly month: { readonly tickets: number; readonly invoices: number; readonly chat: number; readonly rare: number };
  /** Requests per feature in the shadow phase (every one shadowed) and in the switched phase. */
  readonly shadowed: number;
  readonly switched: number;
  /** Share of the switched phase's served answers shadowed against the premium model. */
  readonly switchedShadowRate: number;
  readonly minRequests: number;
  readonly minExamples: number;
}

interface FeatureOutcome {
  readonly planned: { readonly rank: number; readonly savingShare: number; readonly premiumUsdPerRequest: number; readonly smallUsdPerMonth: number; readonly premiumUsdPerMonth: number };
  /** The small model's scripted error rate on the shadowed requests, and what the shadow report measured. */
  readonly shadow: { readonly scriptedErrorRate: number; readonly measuredErrorRate: number; readonly fullAgreement: number; readonly agreement: number };
  readonly switched: {
    readonly requests: number;
    /** Share of served answers equal to the truth (the premium model's answer). */
    readonly quality: number;
    readonly escalated: number;
    readonly switchedBack: number;
    readonly usdPerRequest: number;
    /** 1 - switched cost per request / the month's premium cost per request, escalations included. */
    readonly costCut: number;
    /** The plan's share less the escalations' worst case (every disagreement caught): the floor of costCut. */
    readonly costCutFloor: number;
    /** Shadow calls of the switched phase, as a share of the feature's served cost. */
    readonly shadowOverhead: number;
    /** costCut with the shadow calls counted: about costCut less the shadow rate (each is a premium call). */
    readonly netCostCut: number;
  };
}

export interface LoopResult {
  readonly ranking: readonly string[];
  readonly blockers: Readonly<Record<string, readonly string[]>>;
  readonly features: Readonly<Record<'tickets' | 'invoices', FeatureOutcome>>;
}

const MONTH_MS = 30.42 * 86_400_000;

/** The three phases; files (usage logs, capture folder) are written under `dir`. */
export async function runSmallModelLoop(o: LoopOptions): Promise<LoopResult> {
  const capturePath = join(o.dir, 'capture');
  mkdirSync(capturePath, { recursive: true });
  const clock = new FakeClock(Date.UTC(2026, 10, 1));
  const items = new Map<string, Item>();
  const r = rng(36);
  let n = 0;
  const make = (feature: string): Item => {
    const i = n++;
    const item = feature === 'tickets' ? ticket(r, i) : feature === 'invoices' ? invoice(r, i) : feature === 'rare' ? { feature: 'rare', text: `Rare question ${i}?`, truth: '' } : chat(r);
    // Chat repeats its prompts; the truth map needs only the first.
    if (!items.has(item.text)) items.set(item.text, item);
    return item;
  };
  const models = new ScriptedModels(items);

  const gatewayFor = (config: GatewayConfigInput, usagePath: string, random: () => number = () => 0) => {
    const resolved = resolveConfig(config);
    const usage = new JsonlUsageSink(usagePath, () => clock.now());
    const capture = new Capture(resolved, new DirectoryCaptureSink(capturePath), clock, () => 0);
    return new Gateway({ config: resolved, providers: new Map([['up', models]]), quota: new MemoryQuotaStore(), usage, alerts: new MemoryAlertSink(), clock, ids: new SeqIds(), sha256, capture, random });
  };
  const ask = async (g: Gateway, item: Item): Promise<{ answer: string | undefined; requestId: string }> => {
    const messages = [...(item.system ? [{ role: 'system', content: item.system }] : []), { role: 'user', content: item.text }];
    const body = JSON.stringify({ model: 'auto', messages, max_tokens: 2500 });
    const res = await g.chat({ tenantId: 'acme', feature: item.feature, body, bodyBytes: Buffer.byteLength(body) });
    const answer = res.kind === 'json' && res.status === 200 ? (res.body as ChatCompletion).choices[0].message.content as string : undefined;
    return { answer, requestId: res.headers['x-request-id'] ?? '' };
  };

  // 1. A month of premium traffic, in an interleaved order over 30.42 days.
  const monthLog = join(o.dir, 'month.jsonl');
  const month = gatewayFor(baseConfig(capturePath), monthLog);
  const order = (['tickets', 'invoices', 'chat', 'rare'] as const).flatMap((f) => Array<string>(o.month[f]).fill(f));
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const step = MONTH_MS / Math.max(1, order.length - 1);
  for (const [i, f] of order.entries()) {
    if (i) clock.advance(step);
    await ask(month, make(f));
  }
  await month.flush();
  const plan = await cliJson([
    'distill', 'plan', '--usage', monthLog, '--teachers', 'premium', '--capture', capturePath,
    '--hosting', writeHosting(o.dir), '--min-requests', String(o.minRequests), '--min-examples', String(o.minExamples), '--json',
  ]) as { features: { feature: string; blockers: string[]; premiumUsdPerMonth: number; premiumRequestsPerMonth: number; best: { savingShare: number; usdPerMonth: number } | null }[] };

  // 2. Shadow tests: every request of both features asked again of the small model.
  clock.advance(86_400_000);
  const shadowLog = join(o.dir, 'shadow.jsonl');
  const shadow = gatewayFor(shadowConfig(capturePath), shadowLog);
  const shadowed = { tickets: [] as Item[], invoices: [] as Item[] };
  for (let i = 0; i < o.shadowed; i++) {
    for (const f of ['tickets', 'invoices'] as const) {
      const item = make(f);
      shadowed[f].push(item);
      await ask(shadow, item);
    }
  }
  await shadow.flush();
  const report = await cliJson(['distill', 'report', '--usage', shadowLog, '--json']) as { feature: string; agreement: number; fullAgreement: number }[];

  // 3. Switched, guarded, and shadowed the other way round.
  clock.advance(86_400_000);
  const switchedLog = join(o.dir, 'switched.jsonl');
  // A fixed stream decides which served answers are shadowed (the rate is below 1).
  const switched = gatewayFor(switchedConfig(capturePath, o.switchedShadowRate), switchedLog, rng(7));
  const served = { tickets: [] as { item: Item; answer: string | undefined }[], invoices: [] as { item: Item; answer: string | undefined }[] };
  for (let i = 0; i < o.switched; i++) {
    for (const f of ['tickets', 'invoices'] as const) {
      const item = make(f);
      served[f].push({ item, answer: (await ask(switched, item)).answer });
    }
  }
  await switched.flush();
  const after = await cliJson(['distill', 'report', '--usage', switchedLog, '--json']) as { feature: string; switched: { escalated: number; switchedBack: number; requests: number } | null }[];
  const switchedRecords = readFileSync(switchedLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type?: string; feature?: string; cost_micros?: number });
  const monthRecords = readFileSync(monthLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { feature?: string; cost_micros?: number });

  const features = {} as Record<'tickets' | 'invoices', FeatureOutcome>;
  for (const f of ['tickets', 'invoices'] as const) {
    const p = plan.features.find((x) => x.feature === f)!;
    const rep = report.find((x) => x.feature === f)!;
    const scripted = shadowed[f].filter((it) => smallVerdict(it.text) !== 'right').length / shadowed[f].length;
    const right = served[f].filter((s) => s.answer !== undefined && same(f, s.answer, s.item.truth)).length;
    const cost = (rs: { feature?: string; cost_micros?: number }[], feature: string) => rs.filter((x) => x.feature === feature).reduce((a, x) => a + (x.cost_micros ?? 0), 0) / 1e6;
    const premiumPerRequest = cost(monthRecords, f) / o.month[f];
    const usdPerRequest = cost(switchedRecords, f) / o.switched;
    const sw = after.find((x) => x.feature === f)!.switched!;
    const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;
    features[f] = {
      planned: { rank: plan.features.findIndex((x) => x.feature === f) + 1, savingShare: p.best!.savingShare, premiumUsdPerRequest: round(premiumPerRequest, 6), smallUsdPerMonth: p.best!.usdPerMonth, premiumUsdPerMonth: p.premiumUsdPerMonth },
      shadow: { scriptedErrorRate: round(scripted), measuredErrorRate: round(1 - rep.fullAgreement), fullAgreement: rep.fullAgreement, agreement: rep.agreement },
      switched: {
        requests: sw.requests, quality: round(right / served[f].length), escalated: sw.escalated, switchedBack: sw.switchedBack, usdPerRequest: round(usdPerRequest, 6),
        costCut: round(1 - usdPerRequest / premiumPerRequest), costCutFloor: round(p.best!.savingShare - (1 - rep.fullAgreement)),
        shadowOverhead: round(cost(switchedRecords, `shadow.${f}`) / cost(switchedRecords, f)),
        netCostCut: round(1 - (cost(switchedRecords, f) + cost(switchedRecords, `shadow.${f}`)) / o.switched / premiumPerRequest),
      },
    };
  }
  return {
    ranking: plan.features.map((x) => x.feature),
    blockers: Object.fromEntries(plan.features.map((x) => [x.feature, x.blockers])),
    features,
  };
}

/** The served answer is right: the same label (as the guard normalises it), or the same JSON object. */
function same(feature: string, answer: string, truth: string): boolean {
  if (feature === 'tickets') return normaliseLabel(answer) === normaliseLabel(truth);
  try {
    return JSON.stringify(JSON.parse(answer)) === truth;
  } catch {
    return false;
  }
}

/** The small model's one hosting option for the plan: on demand at its per-token price. */
function writeHosting(dir: string): string {
  const file = join(dir, 'hosting.json');
  writeFileSync(file, JSON.stringify([{ label: 'small on demand', usdPerMTok: { input: PRICES.small.inputPerMTok, output: PRICES.small.outputPerMTok } }]));
  return file;
}
