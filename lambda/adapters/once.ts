/** Runs `fn` on the first call and shares its promise with later calls; a failure is forgotten, so the next call tries again. */
export function onceUntilFailure(fn: () => Promise<void>): () => Promise<void> {
  let pending: Promise<void> | undefined;
  return () =>
    (pending ??= fn().catch((err) => {
      pending = undefined;
      throw err;
    }));
}
