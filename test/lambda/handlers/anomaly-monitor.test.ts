import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CostExplorerClient, CreateAnomalyMonitorCommand, GetAnomalyMonitorsCommand } from '@aws-sdk/client-cost-explorer';
import { mockClient } from 'aws-sdk-client-mock';
import { planAnomalyMonitor } from '../../../lambda/core/budgets/anomaly-monitor';
import type { CustomResourceEvent } from '../../../lambda/handlers/shared/anomaly-monitor-handler';

const SERVICES = 'arn:aws:ce::111122223333:anomalymonitor/3f8c9e6a-1111-4b55-9f1e-2d7c5a0b9e11';
const CUSTOM = 'arn:aws:ce::111122223333:anomalymonitor/7d1e2f3a-2222-4c66-8a2f-3e8d6b1c0f22';

/** CloudFormation's pre-signed ResponseURL on loopback: what the handler PUTs there. */
async function responseUrl(): Promise<{ url: string; bodies: Record<string, unknown>[]; headers: Record<string, unknown>[]; server: Server }> {
  const bodies: Record<string, unknown>[] = [];
  const headers: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      bodies.push(JSON.parse(body));
      headers.push({ method: req.method, contentType: req.headers['content-type'] });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cfn-response?X-Amz-Signature=abc`, bodies, headers, server };
}

const event = (RequestType: CustomResourceEvent['RequestType'], ResponseURL: string, PhysicalResourceId?: string): CustomResourceEvent => ({
  RequestType, ResponseURL, PhysicalResourceId,
  StackId: 'arn:aws:cloudformation:us-east-1:111122223333:stack/Prod/6c3a1f20-0000-11ef-8e2c-0a1b2c3d4e5f',
  RequestId: 'b7c1e0b2-5f3a-4d8e-9a6b-1c2d3e4f5a6b', LogicalResourceId: 'GuardAnomalyMonitor1A2B3C4D',
  ResourceProperties: { MonitorName: 'Prod-Guard-services' },
});

describe('anomaly monitor resolver (custom resource)', () => {
  const ce = mockClient(CostExplorerClient);
  let handler: (e: CustomResourceEvent) => Promise<void>;
  beforeAll(() => {
    jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    // Required, not isolated: the module must share the SDK class that mockClient patched.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    handler = require('../../../lambda/handlers/anomaly-monitor').handler;
  });
  afterAll(() => jest.restoreAllMocks());
  beforeEach(() => ce.reset());

  it('reuses the account\'s AWS-services monitor (found on the second page) and answers CloudFormation with its ARN', async () => {
    ce.on(GetAnomalyMonitorsCommand, { NextPageToken: undefined }).resolves({ AnomalyMonitors: [{ MonitorArn: CUSTOM, MonitorName: 'team', MonitorType: 'CUSTOM' }], NextPageToken: 'p2' });
    ce.on(GetAnomalyMonitorsCommand, { NextPageToken: 'p2' }).resolves({ AnomalyMonitors: [{ MonitorArn: SERVICES, MonitorName: 'Default-Services-Monitor', MonitorType: 'DIMENSIONAL', MonitorDimension: 'SERVICE' }] });
    const r = await responseUrl();
    try {
      await handler(event('Create', r.url));
      expect(ce.commandCalls(CreateAnomalyMonitorCommand)).toHaveLength(0);
      expect(r.headers).toEqual([{ method: 'PUT', contentType: '' }]);
      expect(r.bodies).toEqual([{
        Status: 'SUCCESS', PhysicalResourceId: SERVICES, StackId: event('Create', '').StackId, RequestId: 'b7c1e0b2-5f3a-4d8e-9a6b-1c2d3e4f5a6b',
        LogicalResourceId: 'GuardAnomalyMonitor1A2B3C4D', Data: { MonitorArn: SERVICES, Created: 'false' },
      }]);
    } finally {
      r.server.close();
    }
  });

  it('creates the AWS-services monitor where the account has none, and keeps it on delete', async () => {
    ce.on(GetAnomalyMonitorsCommand).resolves({ AnomalyMonitors: [] });
    ce.on(CreateAnomalyMonitorCommand).resolves({ MonitorArn: SERVICES });
    const r = await responseUrl();
    try {
      await handler(event('Create', r.url));
      expect(ce.commandCalls(CreateAnomalyMonitorCommand)[0].args[0].input).toEqual({
        AnomalyMonitor: { MonitorName: 'Prod-Guard-services', MonitorType: 'DIMENSIONAL', MonitorDimension: 'SERVICE' },
      });
      expect(r.bodies[0]).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: SERVICES, Data: { MonitorArn: SERVICES, Created: 'true' } });
      await handler(event('Delete', r.url, SERVICES));
      expect(ce.calls()).toHaveLength(2); // one list, one create: the delete touches nothing
      expect(r.bodies[1]).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: SERVICES });
    } finally {
      r.server.close();
    }
  });

  it('reuses the monitor a concurrent deploy created first, and answers FAILED with the reason otherwise', async () => {
    ce.on(GetAnomalyMonitorsCommand).resolvesOnce({ AnomalyMonitors: [] }).resolves({ AnomalyMonitors: [{ MonitorArn: SERVICES, MonitorName: 'Staging-Guard-services', MonitorType: 'DIMENSIONAL', MonitorDimension: 'SERVICE' }] });
    ce.on(CreateAnomalyMonitorCommand).rejects(Object.assign(new Error('Limit exceeded on dimensional spend monitor creation'), { name: 'LimitExceededException' }));
    const r = await responseUrl();
    try {
      await handler(event('Create', r.url));
      expect(r.bodies[0]).toMatchObject({ Status: 'SUCCESS', Data: { MonitorArn: SERVICES, Created: 'false' } });
      ce.reset();
      ce.on(GetAnomalyMonitorsCommand).rejects(Object.assign(new Error('User is not authorized to perform: ce:GetAnomalyMonitors'), { name: 'AccessDeniedException' }));
      await handler(event('Update', r.url, SERVICES));
      expect(r.bodies[1]).toMatchObject({ Status: 'FAILED', PhysicalResourceId: SERVICES, Reason: 'AccessDeniedException: User is not authorized to perform: ce:GetAnomalyMonitors' });
    } finally {
      r.server.close();
    }
  });

  it('plans: an AWS-services monitor is reused, a custom or linked-account one is not', () => {
    expect(planAnomalyMonitor([{ MonitorArn: CUSTOM, MonitorType: 'CUSTOM' }, { MonitorArn: SERVICES, MonitorType: 'DIMENSIONAL', MonitorDimension: 'SERVICE' }], 'x')).toEqual({ reuse: SERVICES });
    expect(planAnomalyMonitor([{ MonitorArn: CUSTOM, MonitorType: 'DIMENSIONAL', MonitorDimension: 'LINKED_ACCOUNT' }], 'p-services'))
      .toEqual({ create: { MonitorName: 'p-services', MonitorType: 'DIMENSIONAL', MonitorDimension: 'SERVICE' } });
  });
});
