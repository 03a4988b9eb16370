import { DynamoDbKeyLookup } from '../adapters/dynamodb-key-lookup';
import { sha256 } from '../adapters/system-runtime';
import { ENV_QUOTA_TABLE, ENV_USAGE_SCOPE } from '../contract';
import { tenantKeyHashes } from '../core/config/key-hashes';
import { configFromEnv } from './shared/config-from-env';
import { createAuthorizerHandler } from './shared/authorizer-handler';

/**
 * Built once per execution environment from the same config document as the router: only its tenant key hashes,
 * read without the schema library (the router validates the whole document).
 */
const table = process.env[ENV_QUOTA_TABLE];
// Run-time tenants' keys: one signed GetItem, without the SDK client stack (see DynamoDbKeyLookup).
const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
export const handler = createAuthorizerHandler(tenantKeyHashes(configFromEnv()), sha256, table ? new DynamoDbKeyLookup({ tableName: table, region }) : undefined, process.env[ENV_USAGE_SCOPE] ?? '');
