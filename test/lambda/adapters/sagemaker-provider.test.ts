import {
  InvokeEndpointCommand,
  InvokeEndpointWithResponseStreamCommand,
  ModelError,
  SageMakerRuntimeClient,
  type ResponseStream,
} from '@aws-sdk/client-sagemaker-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { SageMakerProvider } from '../../../lambda/adapters/sagemaker-provider';
import { MemoryUsageSink } from '../../../lambda/adapters/usage-sinks';
import { buildGateway } from '../../../lambda/adapters/wiring';
import { FakeUpstream } from '../../support/upstream';
import { resolveConfig } from '../../../lambda/core/config/resolve';
import type { ChatRequest } from '../../../lambda/core/openai/types';
import type { ProviderCall, ProviderStreamEvent } from '../../../lambda/core/ports';
import { costMicros } from '../../../lambda/core/pricing/prices';

const config = resolveConfig({
  providers: [{ type: 'sagemaker', id: 'sm' }],
  models: [
    { id: 'llama-8b', provider: 'sm', upstreamModel: 'llama31-8b-inf2', inferenceComponent: 'llama31-8b-ic', instanceType: 'ml.inf2.xlarge' },
    { id: 'mistral', provider: 'sm', upstreamModel: 'mistral-g5', price: { inputPerMTok: 0.5, outputPerMTok: 1.5 } },
  ],
  tiers: [{ name: 't', models: ['llama-8b', 'mistral'] }],
  routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'mistral' },
});

const call = (modelId: string, request: Partial<ChatRequest> = {}, maxTokens = 4096): ProviderCall => ({
  model: config.models.get(modelId)!,
  request: { model: modelId, messages: [{ role: 'user', content: 'What is Inferentia?' }], ...request } as ChatRequest,
  maxTokens,
  signal: new AbortController().signal,
});

const enc = (o: unknown) => new TextEncoder().encode(typeof o === 'string' ? o : JSON.stringify(o));

describe('SageMakerProvider', () => {
  const mock = mockClient(SageMakerRuntimeClient);
  const provider = new SageMakerProvider(new SageMakerRuntimeClient({ region: 'us-east-1' }), 5000);
  beforeEach(() => mock.reset());

  it('invokes a messages-API container with the OpenAI body and reads usage from the response', async () => {
    mock.on(InvokeEndpointCommand).resolves({
      $metadata: { httpStatusCode: 200 },
      ContentType: 'application/json',
      Body: enc({
        id: 'chatcmpl-lmi-1', object: 'chat.completion', created: 1764400000, model: 'lmi',
        choices: [{ index: 0, message: { role: 'assistant', content: 'A chip for inference.' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 14, completion_tokens: 6, total_tokens: 20 },
      }) as never,
    });
    const out = await provider.complete(call('mistral', { temperature: 0.1 }, 64));
    const input = mock.commandCalls(InvokeEndpointCommand)[0].args[0].input;
    expect({ ...input, Body: JSON.parse(new TextDecoder().decode(input.Body as Uint8Array)) }).toEqual({
      EndpointName: 'mistral-g5',
      ContentType: 'application/json',
      Accept: 'application/json',
      Body: { messages: [{ role: 'user', content: 'What is Inferentia?' }], temperature: 0.1, max_tokens: 64 },
    });
    expect(out.completion.choices[0].message.content).toBe('A chip for inference.');
    expect(out.completion.model).toBe('mistral');
    expect(out.usage).toEqual({ inputTokens: 14, outputTokens: 6, cacheReadTokens: 0, cacheWriteTokens: 0 });
    // 14 x $0.5/M + 6 x $1.5/M = 7 + 9 micros
    expect(costMicros(out.usage!, config.models.get('mistral')!.price!)).toBe(16);
  });

  it('targets the inference component when the model names one', async () => {
    mock.on(InvokeEndpointCommand).resolves({ $metadata: {}, Body: enc({ choices: [{ index: 0, message: { role: 'assistant', content: 'x' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }) as never });
    await provider.complete(call('llama-8b'));
    expect(mock.commandCalls(InvokeEndpointCommand)[0].args[0].input).toMatchObject({ EndpointName: 'llama31-8b-inf2', InferenceComponentName: 'llama31-8b-ic' });
  });

  it('reads SSE payload parts split across event boundaries and the final usage chunk', async () => {
    const sse = [
      'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Infer"},"finish_reason":null}]}\n\n',
      'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"entia"},"finish_reason":"stop"}]}\n\ndata: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}\n\n',
      'data: [DONE]\n\n',
    ].join('');
    const parts = [sse.slice(0, 40), sse.slice(40, 170), sse.slice(170)];
    async function* body(): AsyncGenerator<ResponseStream> {
      for (const p of parts) yield { PayloadPart: { Bytes: enc(p) } };
    }
    mock.on(InvokeEndpointWithResponseStreamCommand).resolves({ $metadata: {}, Body: body() });
    const events: ProviderStreamEvent[] = [];
    for await (const e of provider.stream(call('llama-8b', { stream: true }))) events.push(e);
    const input = mock.commandCalls(InvokeEndpointWithResponseStreamCommand)[0].args[0].input;
    expect(JSON.parse(new TextDecoder().decode(input.Body as Uint8Array))).toEqual({
      messages: [{ role: 'user', content: 'What is Inferentia?' }],
      // The output cap always travels, so no answer costs more than its reservation.
      max_tokens: 4096,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(input.Accept).toBe('text/event-stream');
    const text = events.map((e) => (e.type === 'chunk' ? e.chunk.choices[0].delta.content ?? '' : '')).join('');
    expect(text).toBe('Inferentia');
    expect(events.at(-1)).toEqual({ type: 'usage', usage: { inputTokens: 9, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0 } });
  });

  it.each([
    [new ModelError({ message: 'Received server error (503)', OriginalStatusCode: 503, $metadata: { httpStatusCode: 424 } }), 'server'],
    [new ModelError({ message: 'Received client error (400)', OriginalStatusCode: 400, $metadata: { httpStatusCode: 424 } }), 'client'],
    [Object.assign(new Error('no capacity'), { name: 'ModelNotReadyException', $metadata: { httpStatusCode: 429 } }), 'throttled'],
    [Object.assign(new Error('rate'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }), 'throttled'],
    [Object.assign(new Error('bad'), { name: 'ValidationError', $metadata: { httpStatusCode: 400 } }), 'client'],
    // An inference component at zero copies (scale to zero): the tier's next model answers while capacity arrives.
    [Object.assign(new Error('Inference Component has no capacity to process this request. ApplicationAutoScaling may be in-progress (if configured) or try to increase the capacity by invoking UpdateInferenceComponentRuntimeConfig API.'), { name: 'ValidationError', $metadata: { httpStatusCode: 400 } }), 'throttled'],
  ])('classifies %s', async (err, kind) => {
    mock.on(InvokeEndpointCommand).rejects(err);
    await expect(provider.complete(call('mistral'))).rejects.toMatchObject({ kind });
  });

  it('fails clearly when the container does not speak the messages API', async () => {
    mock.on(InvokeEndpointCommand).resolves({ $metadata: {}, Body: enc([{ generated_text: 'raw TGI output' }]) as never });
    await expect(provider.complete(call('mistral'))).rejects.toMatchObject({ kind: 'server', message: expect.stringContaining('messages-API') });
  });

  it('through the gateway: an endpoint scaled to zero hands the request to the tier\'s next model, and the record says so', async () => {
    const upstream = new FakeUpstream();
    await upstream.start();
    try {
      upstream.setDefault('up-nova', { kind: 'ok', content: 'from the fallback', promptTokens: 12, completionTokens: 4 });
      mock.on(InvokeEndpointCommand).rejects(Object.assign(new Error('Inference Component has no capacity to process this request. ApplicationAutoScaling may be in-progress (if configured) or try to increase the capacity by invoking UpdateInferenceComponentRuntimeConfig API.'), { name: 'ValidationError', $metadata: { httpStatusCode: 400 } }));
      const usage = new MemoryUsageSink();
      const gateway = buildGateway(resolveConfig({
        providers: [{ type: 'sagemaker', id: 'sm', region: 'us-east-1' }, { type: 'openai-compatible', id: 'up', baseUrl: upstream.baseUrl }],
        models: [
          { id: 'qwen-inf2', provider: 'sm', upstreamModel: 'llm-finops-qwen-inf2', inferenceComponent: 'llm-finops-qwen-inf2-model', instanceType: 'ml.inf2.xlarge' },
          { id: 'nova-lite', provider: 'up', upstreamModel: 'up-nova', price: { inputPerMTok: 0.06, outputPerMTok: 0.24 } },
        ],
        tiers: [{ name: 'small', models: ['qwen-inf2', 'nova-lite'] }],
        routing: { thresholds: [{ tier: 'small', upTo: 1 }], baselineModel: 'nova-lite', retry: { attemptsPerModel: 1, baseDelayMs: 1, maxDelayMs: 2 } },
        tenants: [{ id: 'acme', apiKeys: [] }],
        usage: { sink: 'none' },
      }), { env: {}, usage });
      const body = JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'hi' }] });
      const res = await gateway.chat({ tenantId: 'acme', body, bodyBytes: body.length });
      expect(res.status).toBe(200);
      expect(mock.commandCalls(InvokeEndpointCommand)[0].args[0].input).toMatchObject({ EndpointName: 'llm-finops-qwen-inf2', InferenceComponentName: 'llm-finops-qwen-inf2-model' });
      expect(usage.records.at(-1)).toMatchObject({ model: 'nova-lite', status: 200, cost_basis: 'tokens' });
    } finally {
      await upstream.stop();
    }
  });
});
