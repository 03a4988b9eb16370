import { CostExplorerClient, CreateAnomalyMonitorCommand, GetAnomalyMonitorsCommand, type AnomalyMonitor } from '@aws-sdk/client-cost-explorer';
import { awsClientConfig } from '../adapters/aws-client-config';
import { costExplorerRegion } from '../core/finops/tag-activation';
import { createAnomalyMonitorHandler, type AnomalyMonitorsApi } from './shared/anomaly-monitor-handler';

/** Cost Explorer's API is served from one Region per partition, whatever the stack's Region. */
const ce = new CostExplorerClient(awsClientConfig('delivery', costExplorerRegion(process.env.AWS_REGION)));

const api: AnomalyMonitorsApi = {
  async list() {
    const out: AnomalyMonitor[] = [];
    let NextPageToken: string | undefined;
    do {
      const page = await ce.send(new GetAnomalyMonitorsCommand({ NextPageToken }));
      out.push(...(page.AnomalyMonitors ?? []));
      NextPageToken = page.NextPageToken;
    } while (NextPageToken);
    return out;
  },
  async create(monitor) {
    const r = await ce.send(new CreateAnomalyMonitorCommand({ AnomalyMonitor: monitor }));
    if (!r.MonitorArn) throw new Error('CreateAnomalyMonitor returned no MonitorArn');
    return r.MonitorArn;
  },
};

/** The CloudFormation custom resource behind BudgetGuard's default anomaly monitor (see core/budgets/anomaly-monitor). */
export const handler = createAnomalyMonitorHandler({ api, log: (line) => process.stdout.write(`${line}\n`) });
