import type { SNSClient } from '@aws-sdk/client-sns';
import { snsClient } from './lazy';
import { awsClientConfig } from './aws-client-config';
import type { Alert, AlertSink, SwitchBackAlert } from '../core/ports';
import { chatNotification } from './chat-notification';

/**
 * Publishes quota alerts to an SNS topic (fanned out to email, Slack through AWS Chatbot, PagerDuty, ...) in the
 * chat custom-notification shape (see chatNotification). Message attributes carry the type, tenant and scope so
 * subscriptions can filter. Publishing never blocks or fails the
 * request; a failure is written to the log, where a metric filter can count it.
 */
export class SnsAlertSink implements AlertSink {
  private readonly pending = new Set<Promise<unknown>>();

  private client: SNSClient | undefined;

  /** `client` is made on the first publish when not given (the router's cold start leaves the SNS client out). */
  constructor(
    client: SNSClient | undefined,
    private readonly topicArn: string,
    private readonly onError: (err: unknown, alert: Alert) => void = (err, alert) =>
      process.stderr.write(`${JSON.stringify({ _type: 'llm_alert_publish_failed', error: String(err), alert })}\n`),
  ) {
    this.client = client;
  }

  publish(alert: Alert): void {
    const { subject, description } = describeAlert(alert);
    // The SDK client is loaded and made inside the promise, so even a failure to load it only reaches onError.
    const sent = Promise.resolve()
      .then(() => {
        const { PublishCommand, SNSClient } = snsClient();
        this.client ??= new SNSClient(awsClientConfig('delivery'));
        return this.client.send(new PublishCommand({
          TopicArn: this.topicArn,
          Subject: subject,
          Message: chatNotification({ title: subject, description, eventType: alert.type, threadId: alert.counter, ...noticeFacts(alert) }),
          MessageAttributes: alert.type === 'switch_back'
            ? { type: { DataType: 'String', StringValue: alert.type }, feature: { DataType: 'String', StringValue: alert.feature }, scope: { DataType: 'String', StringValue: 'feature' } }
            : {
              type: { DataType: 'String', StringValue: alert.type },
              tenant: { DataType: 'String', StringValue: alert.tenant },
              scope: { DataType: 'String', StringValue: alert.scope },
            },
        }));
      })
      .catch((err) => this.onError(err, alert))
      .finally(() => this.pending.delete(sent));
    this.pending.add(sent);
  }

  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }
}

/** An alert's machine-readable facts and what to do about it. */
function noticeFacts(alert: Alert): { context: Record<string, string | number | null | undefined>; nextSteps: string[] } {
  if (alert.type === 'switch_back') {
    return {
      context: { ...alert },
      nextSteps: [
        `See the agreement per feature: llm-finops distill report --usage <usage.jsonl>`,
        `To keep the premium model after ${alert.retryAt}, remove routing.features.${alert.feature} from the gateway config`,
      ],
    };
  }
  return {
    context: { ...alert, policy: alert.policy ? `${alert.policy.id} ${alert.policy.per} ${alert.policy.value}` : undefined },
    nextSteps: [alert.policy ? `Raise quota.policies '${alert.policy.id}' in the gateway config` : 'Raise the limit without a redeploy: llm-finops quota limits ... --set KEY=VALUE --store dynamodb'],
  };
}

function describeSwitchBack(a: SwitchBackAlert): { subject: string; description: string } {
  const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
  return {
    subject: `LLM switch back: ${a.feature} to ${a.model}`.slice(0, 100),
    description: `The small model's answers to '${a.feature}' agreed ${pct(a.agreement)} with ${a.model}'s over the last ${a.samples} shadow tests, below ${pct(a.below)}: `
      + `the feature is answered by ${a.model} until ${a.retryAt.slice(0, 16).replace('T', ' ')} UTC, then the small model is tried again.`,
  };
}

/** The subject (at most 100 characters, SNS's limit) and the sentence of an alert, per type. */
export function describeAlert(alert: Alert): { subject: string; description: string } {
  if (alert.type === 'switch_back') return describeSwitchBack(alert);
  const pct = Math.round(alert.threshold * 100);
  const fmt = (v: number): string => (alert.unit === 'usd' ? `$${(v / 1_000_000).toFixed(2)}` : `${v} tokens`);
  const p = alert.policy;
  const who = p
    ? `policy ${p.id}${p.per === 'global' ? '' : ` ${p.per} ${p.per === 'endUser' ? `of ${alert.tenant}` : p.value}`}`
    : alert.scope === 'global' ? 'gateway' : alert.tenant;
  const name = p
    ? `Policy '${p.id}'${p.per === 'global' ? '' : ` (${p.per} ${p.value})`}`
    : alert.scope === 'feature' ? `${alert.tenant}/${alert.feature}` : alert.scope === 'global' ? 'The gateway' : alert.tenant;
  const state = `${name} has committed ${fmt(alert.committed)} of its ${alert.window} limit of ${fmt(alert.limit)} (${alert.period})`;
  const runsOut = alert.exhaustsAt ? `${alert.exhaustsAt.slice(0, 16).replace('T', ' ')} UTC` : '';
  let subject: string;
  let description: string;
  switch (alert.type) {
    case 'quota_forecast':
      subject = `LLM budget forecast: ${who} ${alert.window} limit runs out ${runsOut}`;
      description = `${state}: at the last hour's rate (${fmt(alert.ratePerHour ?? 0)} an hour) it runs out on ${runsOut}, before the window ends.`;
      break;
    case 'quota_spike':
      subject = `LLM spend spike: ${who} at ${fmt(alert.ratePerHour ?? 0)}/hour`;
      description = `${name} is spending ${fmt(alert.ratePerHour ?? 0)} an hour, ${Math.round((alert.ratePerHour ?? 0) / Math.max(1, alert.trailingPerHour ?? 0))}x its trailing average of ${fmt(alert.trailingPerHour ?? 0)} an hour (${alert.period}).`;
      break;
    case 'quota_brownout':
      subject = `LLM brownout (${alert.stage}): ${who} ${alert.window} at ${pct}%`;
      description = `${state}: past ${pct}%, so its requests are now ${alert.stage === 'throttle' ? 'throttled to the policy\'s throttleRpm' : 'served from the cheapest allowed tier'}.`;
      break;
    default:
      subject = `LLM quota ${pct}%: ${who} ${alert.window} ${alert.unit}`;
      description = `${state}: past ${pct}%.`;
  }
  return { subject: subject.slice(0, 100), description };
}
