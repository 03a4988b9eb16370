import { MemoryQuotaStore } from '../../../lambda/adapters/memory-quota-store';
import { quotaStoreContract } from './quota-store.contract';

quotaStoreContract('memory', async () => new MemoryQuotaStore());
