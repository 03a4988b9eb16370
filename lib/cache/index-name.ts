// Internal: the index name rule SemanticCache and its import share; lib/index.ts does not export it.

/** The k-NN index's name when none is given. */
export const DEFAULT_INDEX_NAME = 'llm-finops-semantic-cache';

/** The problem with an index name (lower-case letters, digits, _ and -, up to 255), or undefined when it is valid. */
export function indexNameProblem(name: string): string | undefined {
  return /^[a-z0-9][a-z0-9_-]{0,254}$/.test(name) ? undefined : `indexName: expected lower-case letters, digits, _ and -, got '${name}'`;
}
