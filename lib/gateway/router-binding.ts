import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * A function the library's constructs bind to (the router, the key authorizer): it takes environment variables and
 * grants. `lambda.Function` is one. The one binding shape every `bindRouter` / `bindAuthorizer` accepts.
 */
export interface IRouterBinding extends iam.IGrantable {
  addEnvironment(key: string, value: string): unknown;
}

/** A binding that also takes Lambda layers (the sentence encoder's weights). `lambda.Function` is one. */
export interface ILayeredRouterBinding extends IRouterBinding {
  addLayers(...layers: lambda.ILayerVersion[]): void;
}
