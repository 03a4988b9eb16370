/**
 * One call to a provider's batch control plane (OpenAI's Files and Batch APIs, Anthropic's Message Batches): the
 * answer's JSON, or an error naming the provider, the call and the status (with the start of the body) or that the
 * answer was not JSON. The callers check the shape they expect.
 */
export async function fetchBatchJson(
  fetchImpl: typeof fetch, provider: string, url: string, method: string, path: string, headers: Record<string, string>, body?: string | FormData,
): Promise<unknown> {
  const res = await fetchImpl(url, { method, headers, body });
  const text = await res.text();
  if (!res.ok) throw new Error(`${provider} ${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`${provider} ${method} ${path}: the answer is not JSON`);
  }
}
