import { CostExplorerClient, ListCostAllocationTagsCommand, UpdateCostAllocationTagsStatusCommand, type CostAllocationTag } from '@aws-sdk/client-cost-explorer';
import { awsClientConfig } from '../adapters/aws-client-config';
import { ENV_COST_ALLOCATION_TAGS } from '../contract';
import { costExplorerRegion, parseTagKeys } from '../core/finops/tag-activation';
import { createTagActivatorHandler } from './shared/tag-activator-handler';

/** Cost Explorer's API is served from one Region per partition, whatever the stack's Region. */
const ce = new CostExplorerClient(awsClientConfig('delivery', costExplorerRegion(process.env.AWS_REGION)));
const keys = parseTagKeys(process.env[ENV_COST_ALLOCATION_TAGS]);

export const handler = createTagActivatorHandler({
  keys,
  log: (line) => process.stdout.write(`${line}\n`),
  api: {
    async list(wanted) {
      const out: CostAllocationTag[] = [];
      let token: string | undefined;
      do {
        const page = await ce.send(new ListCostAllocationTagsCommand({ TagKeys: [...wanted], Type: 'UserDefined', NextToken: token }));
        out.push(...(page.CostAllocationTags ?? []));
        token = page.NextToken;
      } while (token);
      return out;
    },
    async activate(toActivate) {
      const res = await ce.send(new UpdateCostAllocationTagsStatusCommand({ CostAllocationTagsStatus: toActivate.map((TagKey) => ({ TagKey, Status: 'Active' })) }));
      return res.Errors ?? [];
    },
  },
});
