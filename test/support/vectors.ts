/**
 * `n` unit vectors of `dims` around `clusters` random centres (each component the centre's plus uniform noise of half
 * its spread), as sentence embeddings cluster by topic; deterministic for a `seed`.
 */
export function clusteredVectors(n: number, dims: number, clusters: number, seed: number): Float32Array[] {
  let x = seed;
  const rnd = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: dims }, rnd));
  return Array.from({ length: n }, (_, i) => {
    const v = centres[i % clusters].map((c) => c + 0.5 * rnd());
    const norm = Math.hypot(...v);
    return v.map((c) => c / norm);
  });
}
