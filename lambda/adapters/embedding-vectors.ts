/** L2-normalises an embedding the provider may return unnormalised (Ollama, vLLM), so cosine = dot product. */
export function normalised(values: ArrayLike<number>, what: string): Float32Array {
  const v = Float32Array.from(values as ArrayLike<number>);
  let norm = 0;
  for (const x of v) {
    if (!Number.isFinite(x)) throw new Error(`${what}: embedding holds a non-finite value`);
    norm += x * x;
  }
  if (norm === 0) throw new Error(`${what}: embedding is all zeros`);
  norm = Math.sqrt(norm);
  for (let i = 0; i < v.length; i++) v[i] /= norm;
  return v;
}
