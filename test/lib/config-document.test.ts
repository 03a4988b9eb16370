import { readFileSync } from 'node:fs';
import type { GatewayConfigDocument } from '../../lambda/contract';
import type { GatewayConfigInput } from '../../lambda/core/config/schema';
import { CONFIG_TYPE_FILE, configTypeSource } from '../../scripts/config-type';

// Compile-time: the standalone type the constructs export and the zod schema's input type accept the same documents.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same: Same<GatewayConfigDocument, GatewayConfigInput> = true;

describe('GatewayConfigDocument (lambda/config-document.ts)', () => {
  it('is generated from the current schema (run npm run gen:config-type after changing it)', () => {
    expect(readFileSync(CONFIG_TYPE_FILE, 'utf8')).toBe(configTypeSource());
    expect(same).toBe(true);
  });

  it('needs no import, so construct users need no zod', () => {
    expect(readFileSync(CONFIG_TYPE_FILE, 'utf8')).not.toMatch(/^import |require\(/m);
  });
});
