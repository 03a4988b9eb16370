import { AssetHashType } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { bundleDir, bundleHash } from './bundles';

/** A pre-built bundle as Lambda code, hashed by its content (bundleHash): the same hash the cdktf flavour uses. */
export function bundleCode(name: string): lambda.Code {
  return lambda.Code.fromAsset(bundleDir(name), { assetHash: bundleHash(name), assetHashType: AssetHashType.CUSTOM });
}
