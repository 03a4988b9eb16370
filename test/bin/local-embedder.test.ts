import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../bin/commands/gateway';
import { testConfig } from '../support/config';

function configFile(semantic: Record<string, unknown>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'llm-finops-embedder-')), 'gateway.json');
  writeFileSync(file, JSON.stringify(testConfig('http://127.0.0.1:9/v1', { cache: { semantic } })));
  return file;
}

describe('the embedder llm-finops local uses when the config names none', () => {
  it('is the sentence encoder (installed with the CLI), with its threshold and guards; config validate keeps the schema default', () => {
    const file = configFile({ enabled: true });
    const warnings: string[] = [];
    const local = loadConfigFile(file, { warn: (m) => warnings.push(m) });
    expect(local.raw.cache.semantic.embedder).toEqual({ type: 'sentence', maxChars: 4000 });
    expect(local.semanticCache.threshold).toBe(0.82);
    expect(local.semanticCache.guards).toMatchObject({ question: false, person: false, content: true, contentRule: 'order' });
    expect(warnings).toEqual([]);
    expect(loadConfigFile(file).raw.cache.semantic.embedder).toEqual({ type: 'local', dimensions: 1024 });
  });

  it('leaves a named embedder, a disabled cache and explicit guards alone', () => {
    const named = loadConfigFile(configFile({ enabled: true, embedder: { type: 'local' } }), { warn: () => undefined });
    expect(named.raw.cache.semantic.embedder.type).toBe('local');
    expect(named.semanticCache.threshold).toBe(0.65);
    expect(named.semanticCache.guards).toMatchObject({ question: true, person: true, content: true });
    const off = loadConfigFile(configFile({ enabled: false }), { warn: () => undefined });
    expect(off.raw.cache.semantic.embedder.type).toBe('local');
    const explicit = loadConfigFile(configFile({ enabled: true, guards: { question: true, contentRule: 'exact' } }), { warn: () => undefined });
    expect(explicit.semanticCache.guards).toMatchObject({ question: true, person: false, contentRule: 'exact' });
  });
});
