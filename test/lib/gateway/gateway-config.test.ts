import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayConfig } from '../../../lib';

const PLATFORM = join(__dirname, '..', '..', '..', 'examples', 'platform', 'gateway.json');

describe('GatewayConfig', () => {
  it('reads a JSON file, and gives the document back as JSON', () => {
    const config = GatewayConfig.fromFile(PLATFORM);
    expect(GatewayConfig.isGatewayConfig(config)).toBe(true);
    expect(config.toJSON().routing.baselineModel).toBeDefined();
    expect(JSON.parse(JSON.stringify(config))).toEqual(config.toJSON());
  });

  it('keeps an object by reference', () => {
    const document = { providers: [], models: [] };
    expect(GatewayConfig.fromObject(document).toJSON()).toBe(document);
  });

  it('says what is wrong with a file that is missing, not JSON, or not an object', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-config-'));
    expect(() => GatewayConfig.fromFile(join(dir, 'none.json'))).toThrow(/^GatewayConfig.fromFile: cannot read .*none\.json: ENOENT/);
    writeFileSync(join(dir, 'bad.json'), '{"providers": [');
    expect(() => GatewayConfig.fromFile(join(dir, 'bad.json'))).toThrow(/^GatewayConfig.fromFile: .*bad\.json is not JSON: /);
    writeFileSync(join(dir, 'list.json'), '[]');
    expect(() => GatewayConfig.fromFile(join(dir, 'list.json'))).toThrow(/list\.json holds JSON but not an object/);
  });

  it('refuses what is not an object', () => {
    expect(() => GatewayConfig.fromObject([] as never)).toThrow('GatewayConfig.fromObject: expected the config document as an object, got an array');
    expect(() => GatewayConfig.fromObject(null as never)).toThrow('got null');
    expect(GatewayConfig.isGatewayConfig({ providers: [] })).toBe(false);
    expect(GatewayConfig.isGatewayConfig(undefined)).toBe(false);
  });
});
