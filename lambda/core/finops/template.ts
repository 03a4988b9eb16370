/** Reading synthesised CloudFormation templates: shared by the estimate and doctor. */

export interface CfnTemplate {
  readonly Resources?: Record<string, { readonly Type: string; readonly Properties?: Record<string, unknown> }>;
}

export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
export const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);

/**
 * The Application Auto Scaling target of an endpoint: of its inference component (ResourceId
 * inference-component/<name>, the component naming this endpoint) or of its variant (endpoint/<name>/variant/...).
 */
export function scalableTargetOf(logicalId: string, endpoint: Record<string, unknown>, all: NonNullable<CfnTemplate['Resources']>): Record<string, unknown> | undefined {
  const names = new Set<string>();
  for (const r of Object.values(all)) {
    const ref = (r.Properties?.EndpointName as { 'Fn::GetAtt'?: string[] } | undefined)?.['Fn::GetAtt'];
    if (r.Type === 'AWS::SageMaker::InferenceComponent' && ref?.[0] === logicalId && typeof r.Properties?.InferenceComponentName === 'string') {
      names.add(`inference-component/${r.Properties.InferenceComponentName}`);
    }
  }
  const endpointName = str(endpoint.EndpointName);
  return Object.values(all).find((r) => {
    if (r.Type !== 'AWS::ApplicationAutoScaling::ScalableTarget') return false;
    const id = str(r.Properties?.ResourceId);
    return id !== undefined && (names.has(id) || (endpointName !== undefined && id.startsWith(`endpoint/${endpointName}/variant/`)));
  })?.Properties;
}

/** The endpoint (logical id and properties) that runs an endpoint config, if the template has one. */
export function endpointOfConfig(configLogicalId: string, all: NonNullable<CfnTemplate['Resources']>): [string, Record<string, unknown>] | undefined {
  for (const [id, r] of Object.entries(all)) {
    const ref = r.Properties?.EndpointConfigName as { 'Fn::GetAtt'?: string[]; Ref?: string } | undefined;
    if (r.Type === 'AWS::SageMaker::Endpoint' && (ref?.['Fn::GetAtt']?.[0] ?? ref?.Ref) === configLogicalId) return [id, r.Properties ?? {}];
  }
  return undefined;
}
