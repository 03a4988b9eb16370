import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { CostDashboard, type CostDashboardProps, GatewayConfig, LlmGateway } from '../../../lib';

const gatewayConfig = GatewayConfig.fromFile(join(__dirname, '..', '..', '..', 'examples', 'platform', 'gateway.json'));

function synth(extra: Partial<CostDashboardProps> = {}) {
  const stack = new Stack(new App(), 'Test', { env: { account: '111122223333', region: 'us-east-1' } });
  const gateway = new LlmGateway(stack, 'Gateway', { config: gatewayConfig });
  const topic = new sns.Topic(stack, 'Topic');
  const dashboard = new CostDashboard(stack, 'Dashboard', { gateway, alarmTopic: topic, ...extra });
  const template = Template.fromStack(stack);
  const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody);
  return { dashboard, template, body };
}

describe('CostDashboard', () => {
  it('has every widget: spend by tier/model, savings, hit ratio, routing mix, quota, latency/overhead, top tenants and features, Bedrock', () => {
    const { body } = synth();
    for (const title of [
      'Spend per hour by tier and model (USD)', 'Cost saved by cache and routing (USD per hour)', 'Cache hit ratio (%)',
      'Routing mix: requests by tier and model', 'Quota rejections, downgrades and brownouts', 'Latency and gateway overhead (ms)',
      'Errors: upstream 5xx, cache backend, API 5xx', 'Top tenants by spend', 'Top features by spend',
      'Bedrock tokens per hour by model (AWS/Bedrock)', 'Bedrock invocations, throttles and latency by model', 'Alarms',
      // Governance: spend rate per scope, runway (forecasts), spikes and brownout stages.
      'Budget alerts by type (threshold, forecast, spike, brownout)', 'Spend rate per tenant (USD per hour)',
      'Runway, spikes and brownout stages (budget alerts)', 'Brownout stages by tenant and policy (requests)',
      'Saved by lever (USD, per tenant, over the time range)',
    ]) expect(body).toContain(title);
    expect(body).toContain('filter _type = \\\\\\"llm_alert\\\\\\"');
    expect(body).toContain('stats sum(cost_usd) as usd_per_hour, count(*) as requests by tenant, bin(1h) as hour');
    expect(body).toContain('sum(savings.routing) / 1e6 as routing_usd');
    // Tier and model come from SEARCH over the router's EMF dimensions; tenants only from the usage log.
    expect(body).toContain(`SEARCH('{LlmFinOps,Model,Tier,service} MetricName=\\\\\\"CostUsd\\\\\\"', 'Sum', 3600)`);
    expect(body).toContain('stats sum(cost_usd) as spend_usd');
    expect(body).toContain('by tenant, feature');
    expect(body).toContain(`SEARCH('{AWS/Bedrock,ModelId} MetricName=\\\\\\"InputTokenCount\\\\\\"', 'Sum', 3600)`);
    expect(body).not.toMatch(/"tenant"\s*,\s*"/); // never a tenant metric dimension
    expect(body).not.toContain('SageMaker');
  });

  it('watches a gateway another stack deployed, imported by its outputs: the same widgets on its API and log group', () => {
    const app = new App();
    const env = { account: '111122223333', region: 'us-east-1' };
    const owner = new Stack(app, 'Gateway', { env });
    const own = new LlmGateway(owner, 'Gateway', { config: gatewayConfig });
    const watcher = new Stack(app, 'Observability', { env });
    const imported = LlmGateway.fromLlmGatewayAttributes(watcher, 'Gateway', { restApiId: 'a1b2c3d4e5', restApiName: 'llm-gateway', routerLogGroupName: '/aws/lambda/llm-router' });
    new CostDashboard(watcher, 'Dashboard', { gateway: imported, alarmTopic: new sns.Topic(watcher, 'Topic') });
    imported.grantInvoke(new iam.Role(watcher, 'Client', { assumedBy: new iam.AccountRootPrincipal() }));
    const t = Template.fromStack(watcher);
    const body = JSON.stringify(Object.values(t.findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody);
    expect(body).toContain('SOURCE \'/aws/lambda/llm-router\'');
    expect(body).toContain('\\"ApiName\\",\\"llm-gateway\\"');
    // The gateway's own metrics and grants are the same whether it is made here or imported.
    expect(imported.metricSpendUsd()).toEqual(own.metricSpendUsd());
    expect(watcher.resolve(imported.baseUrl)).toEqual({ 'Fn::Join': ['', ['https://a1b2c3d4e5.execute-api.us-east-1.', { Ref: 'AWS::URLSuffix' }, '/prod/v1']] });
    t.resourceCountIs('AWS::Logs::LogGroup', 0);
    t.hasResourceProperties('AWS::IAM::Policy', { PolicyDocument: { Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: {
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':execute-api:us-east-1:111122223333:a1b2c3d4e5/prod/*/*']] } }] } });
    expect(() => LlmGateway.fromLlmGatewayAttributes(watcher, 'Bad', { restApiId: 'not an id', restApiName: '', routerLogGroupName: 'x' }))
      .toThrow(/restApiName: expected a non-empty string[\s\S]*restApiId: expected API Gateway's 10-character id, got 'not an id'/);
  });

  it('adds SageMaker endpoint utilisation widgets for named endpoints', () => {
    const { body } = synth({ sageMakerEndpointNames: ['llama-inf2'] });
    expect(body).toContain('SageMaker llama-inf2: utilisation (%)');
    expect(body).toContain('EndpointName=\\\\\\"llama-inf2\\\\\\" MetricName=\\\\\\"GPUUtilization\\\\\\"');
  });

  it('alarms on the gateway-wide totals with their defaults, notifying the topic on ALARM and OK', () => {
    const { template, dashboard } = synth();
    expect(Object.keys(dashboard.alarms).sort()).toEqual(['budgetForecast', 'cacheErrors', 'overheadP99', 'quotaRejections', 'spendSpike', 'upstreamErrors']);
    const topic = { Ref: Match.stringLikeRegexp('Topic') };
    const dims = [{ Name: 'service', Value: 'llm-finops-router' }];
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'LlmFinOps', MetricName: 'QuotaRejections', Dimensions: dims, Statistic: 'Sum', Period: 300, Threshold: 25, EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching', AlarmActions: [topic], OKActions: [topic],
    });
    // The budget alerts the router publishes (and logs with a count by type) also show as alarm states.
    for (const type of ['quota_forecast', 'quota_spike']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'QuotaAlerts', Dimensions: [{ Name: 'AlertType', Value: type }, { Name: 'service', Value: 'llm-finops-router' }], Statistic: 'Sum', Period: 300,
        Threshold: 1, EvaluationPeriods: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'CacheErrors', Threshold: 1, EvaluationPeriods: 3, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'OverheadMs', ExtendedStatistic: 'p99', Threshold: 250, EvaluationPeriods: 3, Dimensions: dims });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 5,
      EvaluationPeriods: 3,
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: '100 * errors / IF(requests > 0, requests, 1)' }),
        Match.objectLike({ Id: 'errors', MetricStat: Match.objectLike({ Metric: { Namespace: 'LlmFinOps', MetricName: 'UpstreamErrors', Dimensions: dims } }) }),
      ]),
    });
  });

  it('takes thresholds, drops an alarm set to 0, and adds the spend-rate alarm when given', () => {
    const { template, dashboard } = synth({ alarms: { spendPerHourUsd: 12.5, cacheErrorsPer5Min: 0, overheadP99Ms: 100 } });
    expect(dashboard.alarms.cacheErrors).toBeUndefined();
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'CostUsd', Statistic: 'Sum', Period: 3600, Threshold: 12.5 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'OverheadMs', Threshold: 100 });
  });

  it('refuses bad thresholds', () => {
    expect(() => synth({ alarms: { upstreamErrorPercent: 150, overheadP99Ms: -1 } })).toThrow(/alarms.upstreamErrorPercent[\s\S]*alarms.overheadP99Ms: expected a number >= 0, got -1|alarms.overheadP99Ms[\s\S]*alarms.upstreamErrorPercent/);
  });
});
