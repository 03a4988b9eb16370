// Writes schema/gateway-config.schema.json from the zod schema, for editors ("$schema" in a config file).
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const root = new URL('..', import.meta.url).pathname;
const { z } = require('zod');
const { GatewayConfigSchema } = require(join(root, 'dist', 'lambda', 'core', 'config', 'schema.js'));
const schema = z.toJSONSchema(GatewayConfigSchema, { io: 'input', target: 'draft-2020-12' });
schema.title = 'cdk-llm-finops GatewayConfig';
mkdirSync(join(root, 'schema'), { recursive: true });
writeFileSync(join(root, 'schema', 'gateway-config.schema.json'), `${JSON.stringify(schema, null, 2)}\n`);
process.stdout.write('wrote schema/gateway-config.schema.json\n');
