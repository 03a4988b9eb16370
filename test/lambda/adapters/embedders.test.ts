import { BedrockRuntimeClient, InvokeModelCommand, ThrottlingException } from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { BedrockEmbedder } from '../../../lambda/adapters/bedrock-embedder';
import { LexicalEmbedder } from '../../../lambda/adapters/lexical-embedder';
import { OpenAiCompatibleEmbedder } from '../../../lambda/adapters/openai-compatible-embedder';
import { fakeEmbedding, FakeUpstream } from '../../support/upstream';

const norm = (v: Float32Array) => Math.hypot(...v);

describe('OpenAiCompatibleEmbedder', () => {
  const upstream = new FakeUpstream();
  beforeAll(() => upstream.start());
  afterAll(() => upstream.stop());
  beforeEach(() => upstream.reset());

  it('posts the texts to /embeddings with the key, orders by index, normalises, and reports billed tokens', async () => {
    const e = new OpenAiCompatibleEmbedder({ baseUrl: upstream.baseUrl, model: 'text-embedding-3-small', apiKey: 'sk-test', dimensions: 8 });
    const out = await e.embed(['hello world', 'goodbye']);
    expect(upstream.received[0].path).toBe('/v1/embeddings');
    expect(upstream.received[0].headers.authorization).toBe('Bearer sk-test');
    expect(upstream.received[0].body).toEqual({ model: 'text-embedding-3-small', input: ['hello world', 'goodbye'], encoding_format: 'float', dimensions: 8 });
    expect(out.inputTokens).toBe(Math.ceil(11 / 4) + Math.ceil(7 / 4));
    expect(Array.from(out.vectors[0]).map((x) => +x.toFixed(5))).toEqual(fakeEmbedding('hello world', 8).map((x) => +x.toFixed(5)));
    expect(norm(out.vectors[1])).toBeCloseTo(1, 5);
    expect(e.dimensions).toBe(8);
  });

  it('learns its size from the first answer and then refuses another size', async () => {
    const e = new OpenAiCompatibleEmbedder({ baseUrl: upstream.baseUrl, model: 'nomic-embed-text' });
    expect(e.dimensions).toBe(0);
    await e.embed(['a']);
    expect(e.dimensions).toBe(8);
    expect(upstream.received[0].body).not.toHaveProperty('dimensions');
  });

  it('fails with the status and message of an error answer', async () => {
    const e = new OpenAiCompatibleEmbedder({ baseUrl: `${upstream.origin}/nope`, model: 'm' });
    await expect(e.embed(['a'])).rejects.toThrow(/HTTP 404/);
  });
});

describe('BedrockEmbedder', () => {
  const bedrock = mockClient(BedrockRuntimeClient);
  beforeEach(() => bedrock.reset());
  const titanReply = (embedding: number[], tokens: number) => ({ body: new TextEncoder().encode(JSON.stringify({ embedding, inputTextTokenCount: tokens })) }) as never;

  it('calls Titan V2 once per text with the size and normalisation, and sums the billed tokens', async () => {
    bedrock.on(InvokeModelCommand).resolvesOnce(titanReply([0.6, 0.8, 0, 0], 3)).resolvesOnce(titanReply([0, 0, 3, 4], 5));
    const e = new BedrockEmbedder(new BedrockRuntimeClient({ region: 'us-east-1' }), { dimensions: 256 });
    // Titan only makes 256, 512 or 1024; 4 (through a cast) keeps the expected vectors readable.
    const small = new BedrockEmbedder(new BedrockRuntimeClient({ region: 'us-east-1' }), { dimensions: 4 as 256 });
    const out = await small.embed(['first text', 'second']);
    const calls = bedrock.commandCalls(InvokeModelCommand).map((c) => c.args[0].input);
    expect(calls).toEqual([
      { modelId: 'amazon.titan-embed-text-v2:0', contentType: 'application/json', accept: 'application/json', body: JSON.stringify({ inputText: 'first text', dimensions: 4, normalize: true }) },
      { modelId: 'amazon.titan-embed-text-v2:0', contentType: 'application/json', accept: 'application/json', body: JSON.stringify({ inputText: 'second', dimensions: 4, normalize: true }) },
    ]);
    expect(out.inputTokens).toBe(8);
    expect(Array.from(out.vectors[1]).map((x) => +x.toFixed(3))).toEqual([0, 0, 0.6, 0.8]);
    expect(e.id).toBe('bedrock:amazon.titan-embed-text-v2:0:256');
  });

  it('refuses an answer of the wrong size and passes throttling on', async () => {
    bedrock.on(InvokeModelCommand).resolvesOnce(titanReply([1, 0], 1)).rejectsOnce(new ThrottlingException({ message: 'slow down', $metadata: {} }));
    const e = new BedrockEmbedder(new BedrockRuntimeClient({ region: 'us-east-1' }), { dimensions: 256 });
    await expect(e.embed(['x'])).rejects.toThrow('expected an embedding of 256 floats');
    await expect(e.embed(['x'])).rejects.toThrow('slow down');
  });
});

describe('LexicalEmbedder', () => {
  it('returns unit vectors, equal for equal texts, and bills no tokens', async () => {
    const e = new LexicalEmbedder(256);
    const out = await e.embed(['How do I reset my password?', 'how do i reset my password', 'Best pizza in Naples']);
    expect(out.inputTokens).toBe(0);
    expect(norm(out.vectors[0])).toBeCloseTo(1, 5);
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);
    expect(dot(out.vectors[0], out.vectors[1])).toBeGreaterThan(0.99);
    expect(dot(out.vectors[0], out.vectors[2])).toBeLessThan(0.3);
  });
});
