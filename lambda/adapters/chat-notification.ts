/** One alert as people and chat channels should read it, plus the machine-readable facts. */
export interface AlertNotice {
  readonly title: string;
  readonly description: string;
  /** e.g. quota_threshold, kill_switch_set: also sent as the SNS message attribute `type`. */
  readonly eventType: string;
  /** The alert's fields; each becomes a string in metadata.additionalContext. */
  readonly context: Readonly<Record<string, string | number | boolean | null | undefined>>;
  readonly nextSteps?: readonly string[];
  /** Notices with the same thread id group into one Slack thread. */
  readonly threadId?: string;
}

/**
 * The SNS message body: AWS Chatbot's (Amazon Q Developer in chat applications) custom notification schema, so the
 * alert renders in Slack or Teams, while email shows the same JSON and programs read `metadata.additionalContext`.
 * Chatbot drops messages it cannot render, which is why the gateway's own alerts use this shape.
 */
export function chatNotification(n: AlertNotice): string {
  const additionalContext: Record<string, string> = {};
  for (const [k, v] of Object.entries(n.context)) if (v !== undefined) additionalContext[k] = v === null ? '' : String(v);
  return JSON.stringify({
    version: '1.0',
    source: 'custom',
    content: {
      textType: 'client-markdown',
      title: n.title,
      description: n.description,
      ...(n.nextSteps?.length ? { nextSteps: n.nextSteps } : {}),
    },
    metadata: {
      ...(n.threadId ? { threadId: n.threadId } : {}),
      summary: n.title,
      eventType: n.eventType,
      additionalContext,
    },
  });
}
