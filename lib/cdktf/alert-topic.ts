import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic';
import { SnsTopicPolicy } from '@cdktf/provider-aws/lib/sns-topic-policy';
import { SnsTopicSubscription } from '@cdktf/provider-aws/lib/sns-topic-subscription';
import { Fn } from 'cdktf';
import { Construct } from 'constructs';

export interface TfAlertTopicProps {
  readonly name: string;
  /** Addresses that receive every alert (each confirms once). @default - none */
  readonly emails?: string[];
}

/**
 * The alert topic on Terraform: TLS only, and AWS Budgets and Cost Anomaly Detection may publish for this account
 * only (aws:SourceAccount, aws:SourceArn), as the CDK AlertTopic.
 */
export class TfAlertTopic extends Construct {
  readonly topic: SnsTopic;

  constructor(scope: Construct, id: string, props: TfAlertTopicProps) {
    super(scope, id);
    const account = new DataAwsCallerIdentity(this, 'Account').accountId;
    const partition = new DataAwsPartition(this, 'Partition').partition;
    this.topic = new SnsTopic(this, 'Topic', { name: props.name, displayName: 'LLM cost alerts' });
    const billing = (sid: string, service: string, sourceArn: string) => ({
      Sid: sid,
      Effect: 'Allow',
      Principal: { Service: service },
      Action: 'SNS:Publish',
      Resource: this.topic.arn,
      Condition: { StringEquals: { 'aws:SourceAccount': account }, ArnLike: { 'aws:SourceArn': sourceArn } },
    });
    new SnsTopicPolicy(this, 'Policy', {
      arn: this.topic.arn,
      policy: Fn.jsonencode({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'AllowPublishThroughSSLOnly', Effect: 'Deny', Principal: '*', Action: 'sns:Publish', Resource: this.topic.arn, Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
          billing('AllowbudgetsPublish', 'budgets.amazonaws.com', `arn:${partition}:budgets::${account}:*`),
          billing('AllowcostalertsPublish', 'costalerts.amazonaws.com', `arn:${partition}:ce::${account}:anomalysubscription/*`),
        ],
      }),
    });
    (props.emails ?? []).forEach((email, i) => new SnsTopicSubscription(this, `Email${i}`, { topicArn: this.topic.arn, protocol: 'email', endpoint: email }));
  }

  get arn(): string {
    return this.topic.arn;
  }
}
