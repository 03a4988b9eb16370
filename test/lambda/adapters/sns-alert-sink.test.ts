import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { describeAlert, SnsAlertSink } from '../../../lambda/adapters/sns-alert-sink';
import type { QuotaAlert } from '../../../lambda/core/ports';

const alert: QuotaAlert = {
  type: 'quota_threshold', tenant: 'acme', feature: null, scope: 'tenant', unit: 'usd', window: 'day', period: '2026-11-29',
  counter: 'tenant#acme#usd#2026-11-29', threshold: 0.8, committed: 8_200_000, limit: 10_000_000, ts: '2026-11-29T12:00:00.000Z',
};

describe('SnsAlertSink', () => {
  const sns = mockClient(SNSClient);
  beforeEach(() => sns.reset());

  it('makes its SNS client with the first alert when none is given (the router leaves SNS out of its cold start)', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm' });
    const sink = new SnsAlertSink(undefined, 'arn:aws:sns:us-east-1:111122223333:llm-alerts');
    expect(sns.calls()).toHaveLength(0);
    sink.publish(alert);
    sink.publish(alert);
    await sink.flush();
    expect(sns.commandCalls(PublishCommand).map((c) => c.args[0].input.TopicArn)).toEqual(['arn:aws:sns:us-east-1:111122223333:llm-alerts', 'arn:aws:sns:us-east-1:111122223333:llm-alerts']);
  });

  it('publishes the alert with a readable summary and filterable attributes', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111' });
    new SnsAlertSink(new SNSClient({ region: 'us-east-1' }), 'arn:aws:sns:us-east-1:111122223333:llm-alerts').publish(alert);
    await new Promise((r) => setImmediate(r));
    const input = sns.commandCalls(PublishCommand)[0].args[0].input;
    expect(input).toMatchObject({
      TopicArn: 'arn:aws:sns:us-east-1:111122223333:llm-alerts',
      Subject: 'LLM quota 80%: acme day usd',
      MessageAttributes: {
        type: { DataType: 'String', StringValue: 'quota_threshold' },
        tenant: { DataType: 'String', StringValue: 'acme' },
        scope: { DataType: 'String', StringValue: 'tenant' },
      },
    });
    // AWS Chatbot's custom notification shape, so Slack renders it; the alert's fields travel as strings.
    expect(JSON.parse(input.Message!)).toEqual({
      version: '1.0',
      source: 'custom',
      content: {
        textType: 'client-markdown',
        title: 'LLM quota 80%: acme day usd',
        description: 'acme has committed $8.20 of its day limit of $10.00 (2026-11-29): past 80%.',
        nextSteps: ['Raise the limit without a redeploy: llm-finops quota limits ... --set KEY=VALUE --store dynamodb'],
      },
      metadata: {
        threadId: 'tenant#acme#usd#2026-11-29',
        summary: 'LLM quota 80%: acme day usd',
        eventType: 'quota_threshold',
        additionalContext: {
          type: 'quota_threshold', tenant: 'acme', feature: '', scope: 'tenant', unit: 'usd', window: 'day', period: '2026-11-29',
          counter: 'tenant#acme#usd#2026-11-29', threshold: '0.8', committed: '8200000', limit: '10000000', ts: '2026-11-29T12:00:00.000Z',
        },
      },
    });
  });

  it('names a policy alert by its policy and value, and says where its limit is raised', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'a1b2c3d4-5678-90ab-cdef-EXAMPLE22222' });
    new SnsAlertSink(new SNSClient({ region: 'us-east-1' }), 'arn:aws:sns:us-east-1:111122223333:llm-alerts').publish({
      ...alert, scope: 'policy', window: 'hour', period: '2026-11-29T12', counter: 'policy#team-hourly#research#usd#2026-11-29T12',
      policy: { id: 'team-hourly', per: 'team', value: 'research' },
    });
    await new Promise((r) => setImmediate(r));
    const input = sns.commandCalls(PublishCommand)[0].args[0].input;
    expect(input.Subject).toBe('LLM quota 80%: policy team-hourly team research hour usd');
    const message = JSON.parse(input.Message!);
    expect(message.content.description).toBe("Policy 'team-hourly' (team research) has committed $8.20 of its hour limit of $10.00 (2026-11-29T12): past 80%.");
    expect(message.content.nextSteps).toEqual(["Raise quota.policies 'team-hourly' in the gateway config"]);
  });

  it('says when a forecast alert\'s limit runs out and at what hourly rate', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'a1b2c3d4-5678-90ab-cdef-EXAMPLE33333' });
    new SnsAlertSink(new SNSClient({ region: 'us-east-1' }), 'arn:aws:sns:us-east-1:111122223333:llm-alerts').publish({
      ...alert, type: 'quota_forecast', window: 'month', period: '2026-12', counter: 'tenant#acme#usd#2026-12', committed: 1_200_000_000, limit: 5_000_000_000,
      threshold: 0.24, exhaustsAt: '2026-12-19T14:20:00.000Z', ratePerHour: 300_000_000,
    });
    await new Promise((r) => setImmediate(r));
    const input = sns.commandCalls(PublishCommand)[0].args[0].input;
    expect(input.Subject).toBe('LLM budget forecast: acme month limit runs out 2026-12-19 14:20 UTC');
    expect(JSON.parse(input.Message!).content.description)
      .toBe("acme has committed $1200.00 of its month limit of $5000.00 (2026-12): at the last hour's rate ($300.00 an hour) it runs out on 2026-12-19 14:20 UTC, before the window ends.");
  });

  it('words spike and brownout alerts by what happened', () => {
    const spike = describeAlert({
      ...alert, type: 'quota_spike', window: 'hour', period: '2026-12-06T10', counter: 'tenant#acme#usd#2026-12-06T10', committed: 120_000_000, limit: 5_000_000_000,
      threshold: 3, ratePerHour: 240_000_000, trailingPerHour: 20_000_000,
    });
    expect(spike).toEqual({ subject: 'LLM spend spike: acme at $240.00/hour', description: 'acme is spending $240.00 an hour, 12x its trailing average of $20.00 an hour (2026-12-06T10).' });
    const brownout = describeAlert({
      ...alert, type: 'quota_brownout', stage: 'throttle', scope: 'policy', policy: { id: 'dev-daily', per: 'endUser', value: 'u-9f2c' }, threshold: 0.9, committed: 18_000_000, limit: 20_000_000,
    });
    expect(brownout).toEqual({
      subject: 'LLM brownout (throttle): policy dev-daily endUser of acme day at 90%',
      description: "Policy 'dev-daily' (endUser u-9f2c) has committed $18.00 of its day limit of $20.00 (2026-11-29): past 90%, so its requests are now throttled to the policy's throttleRpm.",
    });
  });

  it('says which switched feature went back to which premium model, why and until when, filterable by feature', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'a1b2c3d4-5678-90ab-cdef-EXAMPLE44444' });
    new SnsAlertSink(new SNSClient({ region: 'us-east-1' }), 'arn:aws:sns:us-east-1:111122223333:llm-alerts').publish({
      type: 'switch_back', feature: 'tickets', model: 'claude-sonnet-4.5', agreement: 0.8312, samples: 100, below: 0.9,
      retryAt: '2026-12-07T13:00:00.000Z', counter: 'switch#tickets#493812', ts: '2026-12-07T12:00:00.000Z',
    });
    await new Promise((r) => setImmediate(r));
    const input = sns.commandCalls(PublishCommand)[0].args[0].input;
    expect(input.Subject).toBe('LLM switch back: tickets to claude-sonnet-4.5');
    expect(input.MessageAttributes).toEqual({
      type: { DataType: 'String', StringValue: 'switch_back' },
      feature: { DataType: 'String', StringValue: 'tickets' },
      scope: { DataType: 'String', StringValue: 'feature' },
    });
    const message = JSON.parse(input.Message!);
    expect(message.content.description).toBe("The small model's answers to 'tickets' agreed 83.1% with claude-sonnet-4.5's over the last 100 shadow tests, below 90.0%: "
      + 'the feature is answered by claude-sonnet-4.5 until 2026-12-07 13:00 UTC, then the small model is tried again.');
    expect(message.content.nextSteps[1]).toBe('To keep the premium model after 2026-12-07T13:00:00.000Z, remove routing.features.tickets from the gateway config');
    expect(message.metadata).toMatchObject({ threadId: 'switch#tickets#493812', eventType: 'switch_back', additionalContext: { agreement: '0.8312', samples: '100' } });
  });

  it('reports a failed publish without throwing into the request', async () => {
    sns.on(PublishCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottledException' }));
    const errors: unknown[] = [];
    const sink = new SnsAlertSink(new SNSClient({ region: 'us-east-1' }), 'arn:aws:sns:us-east-1:111122223333:t', (e) => errors.push(e));
    expect(() => sink.publish(alert)).not.toThrow();
    await new Promise((r) => setTimeout(r, 10));
    expect(errors).toHaveLength(1);
  });
});
