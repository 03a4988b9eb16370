import { type StoredTenant, type TenantDirectory, TenantExistsError } from '../core/ports';

/** Run-time tenants in process: tests and a local gateway without DynamoDB. */
export class MemoryTenantDirectory implements TenantDirectory {
  private readonly tenants = new Map<string, StoredTenant>();
  private readonly keys = new Map<string, string>();

  async tenantForKey(keyHash: string): Promise<string | undefined> {
    return this.keys.get(keyHash);
  }

  async getTenant(id: string): Promise<StoredTenant | undefined> {
    return this.tenants.get(id);
  }

  async createTenant(t: StoredTenant): Promise<void> {
    if (this.tenants.has(t.id)) throw new TenantExistsError(t.id);
    const { captureConsent, ...rest } = t;
    this.tenants.set(t.id, { ...rest, keyHashes: [...t.keyHashes], ...(captureConsent ? { captureConsent: true } : {}) });
    for (const k of t.keyHashes) this.keys.set(k, t.id);
  }

  async listTenants(): Promise<StoredTenant[]> {
    return [...this.tenants.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  async addKey(id: string, keyHash: string): Promise<void> {
    const t = this.tenants.get(id);
    if (!t) throw new Error(`unknown tenant '${id}'`);
    this.keys.set(keyHash, id);
    this.tenants.set(id, { ...t, keyHashes: [...new Set([...t.keyHashes, keyHash])] });
  }

  async setCaptureConsent(id: string, consent: boolean): Promise<void> {
    const t = this.tenants.get(id);
    if (!t) throw new Error(`unknown tenant '${id}'`);
    const { captureConsent: _old, ...rest } = t;
    this.tenants.set(id, consent ? { ...rest, captureConsent: true } : rest);
  }

  async revokeKey(id: string, keyHash: string): Promise<void> {
    const t = this.tenants.get(id);
    if (!t) throw new Error(`unknown tenant '${id}'`);
    if (this.keys.get(keyHash) === id) this.keys.delete(keyHash);
    this.tenants.set(id, { ...t, keyHashes: t.keyHashes.filter((k) => k !== keyHash) });
  }
}
