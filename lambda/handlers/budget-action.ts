import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DynamoDbQuotaStore } from '../adapters/dynamodb-quota-store';
import { awsClientConfig } from '../adapters/aws-client-config';
import { ENV_ALERT_TOPIC_ARN, ENV_KILL_SWITCH_RULES, ENV_QUOTA_TABLE } from '../contract';
import { parseKillSwitchRules } from '../core/budgets/kill-switch';
import { createBudgetActionHandler } from './shared/budget-action-handler';

/** Built once per execution environment; missing or bad settings fail the cold start, naming the variable. */
const table = process.env[ENV_QUOTA_TABLE];
if (!table) throw new Error(`${ENV_QUOTA_TABLE} is not set: the kill switch needs the quota table.`);
const topic = process.env[ENV_ALERT_TOPIC_ARN];
const sns = topic ? new SNSClient(awsClientConfig('delivery')) : undefined;

export const handler = createBudgetActionHandler({
  store: new DynamoDbQuotaStore(new DynamoDBClient(awsClientConfig('dynamodb')), table),
  rules: parseKillSwitchRules(process.env[ENV_KILL_SWITCH_RULES]),
  tableName: table,
  notify: sns ? async (subject, message, eventType) => {
    await sns.send(new PublishCommand({
      TopicArn: topic,
      Subject: subject,
      Message: message,
      MessageAttributes: { type: { DataType: 'String', StringValue: eventType } },
    }));
  } : undefined,
});
