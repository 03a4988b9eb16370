import { type StoredTenant, type TenantDirectory, TenantExistsError } from '../../../lambda/core/ports';

const tenant = (id: string, keyHashes: string[], extra: Partial<StoredTenant> = {}): StoredTenant => ({
  id, team: null, allowedTiers: null, allowedModels: null, keyHashes, createdAt: '2026-11-29T00:00:00.000Z', ...extra,
});

/** The behaviour every TenantDirectory adapter must have; `make` returns an empty directory. */
export function tenantDirectoryContract(name: string, make: () => Promise<TenantDirectory>): void {
  describe(`TenantDirectory contract: ${name}`, () => {
    let dir: TenantDirectory;
    beforeEach(async () => {
      dir = await make();
    });

    it('creates a tenant whose key then resolves to it', async () => {
      await dir.createTenant(tenant('acme', ['a1'], { team: 'platform', allowedTiers: ['small'] }));
      expect(await dir.tenantForKey('a1')).toBe('acme');
      expect(await dir.getTenant('acme')).toEqual(tenant('acme', ['a1'], { team: 'platform', allowedTiers: ['small'] }));
      expect(await dir.tenantForKey('nope')).toBeUndefined();
      expect(await dir.getTenant('nope')).toBeUndefined();
    });

    it('refuses to create a tenant twice', async () => {
      await dir.createTenant(tenant('acme', ['a1']));
      await expect(dir.createTenant(tenant('acme', ['a2']))).rejects.toBeInstanceOf(TenantExistsError);
      expect(await dir.tenantForKey('a2')).toBeUndefined();
    });

    it('rotates: a new key works at once and a revoked one stops', async () => {
      await dir.createTenant(tenant('acme', ['old']));
      await dir.addKey('acme', 'new');
      expect(await dir.tenantForKey('new')).toBe('acme');
      await dir.revokeKey('acme', 'old');
      expect(await dir.tenantForKey('old')).toBeUndefined();
      expect((await dir.getTenant('acme'))?.keyHashes).toEqual(['new']);
    });

    it('records capture consent at creation, gives and withdraws it, and refuses it for an unknown tenant', async () => {
      await dir.createTenant(tenant('acme', ['a'], { captureConsent: true }));
      await dir.createTenant(tenant('globex', ['g']));
      expect((await dir.getTenant('acme'))?.captureConsent).toBe(true);
      expect(await dir.getTenant('globex')).toEqual(tenant('globex', ['g']));
      await dir.setCaptureConsent('globex', true);
      await dir.setCaptureConsent('acme', false);
      expect((await dir.listTenants()).map((t) => [t.id, t.captureConsent === true])).toEqual([['acme', false], ['globex', true]]);
      expect(await dir.getTenant('acme')).toEqual(tenant('acme', ['a']));
      await expect(dir.setCaptureConsent('nobody', true)).rejects.toThrow("unknown tenant 'nobody'");
    });

    it('lists tenants by id and refuses keys for an unknown tenant', async () => {
      await dir.createTenant(tenant('globex', ['g']));
      await dir.createTenant(tenant('acme', ['a']));
      expect((await dir.listTenants()).map((t) => t.id)).toEqual(['acme', 'globex']);
      await expect(dir.addKey('nobody', 'x')).rejects.toThrow("unknown tenant 'nobody'");
      expect(await dir.tenantForKey('x')).toBeUndefined();
    });
  });
}
