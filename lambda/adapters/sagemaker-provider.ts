import type { ResponseStream, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { sageMakerRuntimeClient } from './lazy';
import type { ChatCompletion } from '../core/openai/types';
import { ProviderError, type ChatProvider, type ProviderCall, type ProviderErrorKind, type ProviderResponse, type ProviderStreamEvent } from '../core/ports';
import { kindForStatus, openWithTimeout, withTimeout } from './http-errors';
import { answerLimits, boundedStream, type AnswerLimits } from './stream-limits';
import { openAiUpstreamBody } from './openai-compatible-provider';
import { openAiChunkEvents, readSseData } from './sse-reader';
import { readOpenAiUsage } from '../core/openai/usage';

const ERROR_KINDS: Record<string, ProviderErrorKind> = {
  ThrottlingException: 'throttled',
  // Scale-from-zero: no instance yet. Another model of the tier can answer meanwhile.
  ModelNotReadyException: 'throttled',
  ServiceUnavailable: 'server',
  InternalFailure: 'server',
  InternalDependencyException: 'server',
  ModelStreamError: 'server',
  InternalStreamFailure: 'server',
  ValidationError: 'client',
  AccessDeniedException: 'auth',
};

const NO_CAPACITY = /no capacity|insufficient capacity|scaled to zero|scale.{0,20}from zero/i;

function classify(err: unknown, what: string): unknown {
  if (err instanceof ProviderError) return err;
  const e = err as { name?: string; message?: string; OriginalStatusCode?: number; $metadata?: { httpStatusCode?: number } };
  if (e?.name === 'AbortError') return err;
  let kind: ProviderErrorKind | undefined = e?.name ? ERROR_KINDS[e.name] : undefined;
  // ModelError: the container answered with an error status; classify by that status.
  if (e?.name === 'ModelError') kind = kindForStatus(e.OriginalStatusCode ?? 500);
  // An inference component scaled to zero answers ValidationError "... has no capacity to process this request ...":
  // capacity is on its way (the NoCapacityInvocationFailures alarm scales it out), so the next model answers meanwhile.
  if (e?.name === 'ValidationError' && NO_CAPACITY.test(e.message ?? '')) kind = 'throttled';
  kind ??= (e?.$metadata?.httpStatusCode ?? 500) < 500 ? 'client' : 'server';
  return new ProviderError(`${what}: ${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`, kind, e?.OriginalStatusCode ?? e?.$metadata?.httpStatusCode, undefined, { cause: err });
}

/**
 * SageMaker real-time endpoints serving an OpenAI messages API (LMI and TGI containers): InvokeEndpoint and
 * InvokeEndpointWithResponseStream. `upstreamModel` is the endpoint name; `inferenceComponent` targets one component.
 */
export class SageMakerProvider implements ChatProvider {
  constructor(
    private readonly client: SageMakerRuntimeClient,
    private readonly timeoutMs: number,
    private readonly limits: AnswerLimits = answerLimits({ timeoutMs }),
  ) {}

  private input(call: ProviderCall, stream: boolean) {
    return {
      EndpointName: call.model.config.upstreamModel,
      ...(call.model.config.inferenceComponent ? { InferenceComponentName: call.model.config.inferenceComponent } : {}),
      ContentType: 'application/json',
      Accept: stream ? 'text/event-stream' : 'application/json',
      Body: new TextEncoder().encode(JSON.stringify(openAiUpstreamBody(call, stream, undefined))),
    };
  }

  async complete(call: ProviderCall): Promise<ProviderResponse> {
    const what = `sagemaker/${call.model.id}`;
    return withTimeout(what, this.timeoutMs, call.signal, async (abortSignal) => {
      let out;
      try {
        out = await this.client.send(new (sageMakerRuntimeClient().InvokeEndpointCommand)(this.input(call, false)), { abortSignal });
      } catch (err) {
        throw classify(err, what);
      }
      let completion: ChatCompletion;
      try {
        completion = JSON.parse(new TextDecoder().decode(out.Body));
      } catch {
        throw new ProviderError(`${what}: the endpoint returned a body that is not JSON`, 'server');
      }
      if (!Array.isArray(completion?.choices)) throw new ProviderError(`${what}: the endpoint's response has no choices (is it a messages-API container?)`, 'server');
      const reading = readOpenAiUsage(completion.usage);
      return { completion: { ...completion, model: call.model.id }, usage: reading.usage, usageProblem: reading.problem };
    });
  }

  async *stream(call: ProviderCall): AsyncGenerator<ProviderStreamEvent> {
    const what = `sagemaker/${call.model.id}`;
    const { value: out, close } = await openWithTimeout(what, this.timeoutMs, call.signal, async (abortSignal) => {
      try {
        return await this.client.send(new (sageMakerRuntimeClient().InvokeEndpointWithResponseStreamCommand)(this.input(call, true)), { abortSignal });
      } catch (err) {
        throw classify(err, what);
      }
    });
    async function* payloads(): AsyncGenerator<Uint8Array> {
      for await (const ev of out.Body ?? emptyStream<ResponseStream>()) {
        const failure = ev.ModelStreamError ?? ev.InternalStreamFailure;
        if (failure) throw classify(failure, what);
        if (ev.PayloadPart?.Bytes) yield ev.PayloadPart.Bytes;
      }
    }
    try {
      // The limits count SSE events, not payload parts: a container dripping a byte per part cannot hold the stream open.
      yield* openAiChunkEvents(boundedStream(readSseData(payloads()), this.limits, what, close, (d) => d.length), what);
    } catch (err) {
      throw classify(err, what);
    } finally {
      close();
    }
  }
}

async function* emptyStream<T>(): AsyncGenerator<T> {}
