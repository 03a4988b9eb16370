import { loadAwsServiceSpecSync } from '@aws-cdk/aws-service-spec';
import type { PropertyType, Resource, TypeDefinition } from '@aws-cdk/service-spec-types';

/**
 * Validates synthesised CloudFormation templates against the CloudFormation resource specification
 * (@aws-cdk/aws-service-spec): resource types, property names, required properties, value shapes of nested types,
 * allowed values of enums, and the attributes Fn::GetAtt names. It catches what CDK's L1 types cannot (escape hatches,
 * raw JSON properties, values) and what our own template tests would repeat wrongly.
 */
const db = loadAwsServiceSpecSync();
const resourceCache = new Map<string, Resource | undefined>();

function resourceOf(type: string): Resource | undefined {
  if (!resourceCache.has(type)) {
    const found = db.lookup('resource', 'cloudFormationType', 'equals', type);
    resourceCache.set(type, found.length ? found[0] : undefined);
  }
  return resourceCache.get(type);
}

const isIntrinsic = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && /^(Ref|Fn::|Condition)/.test(Object.keys(v)[0]);

type Problem = string;

function check(value: unknown, type: PropertyType, path: string, out: Problem[]): boolean {
  if (value === undefined || value === null || isIntrinsic(value)) return true;
  switch (type.type) {
    case 'string': {
      if (typeof value === 'object') return report(out, `${path}: expected a string, got ${JSON.stringify(value).slice(0, 80)}`);
      if (type.allowedValues?.length && typeof value === 'string' && !type.allowedValues.map((x) => x.toLowerCase()).includes(value.toLowerCase())) {
        return report(out, `${path}: '${value}' is not one of ${type.allowedValues.join(', ')}`);
      }
      return true;
    }
    case 'integer':
    case 'number':
      if (typeof value === 'number' || (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value)))) return true;
      return report(out, `${path}: expected a number, got ${JSON.stringify(value).slice(0, 80)}`);
    case 'boolean':
      if (typeof value === 'boolean' || value === 'true' || value === 'false') return true;
      return report(out, `${path}: expected a boolean, got ${JSON.stringify(value).slice(0, 80)}`);
    case 'json':
    case 'date-time':
    case 'null':
    case 'tag':
      return true;
    case 'array':
      if (!Array.isArray(value)) return report(out, `${path}: expected a list, got ${JSON.stringify(value).slice(0, 80)}`);
      return value.map((v, i) => check(v, type.element, `${path}[${i}]`, out)).every(Boolean);
    case 'map':
      if (typeof value !== 'object' || Array.isArray(value)) return report(out, `${path}: expected a map`);
      return Object.entries(value as Record<string, unknown>).map(([k, v]) => check(v, type.element, `${path}.${k}`, out)).every(Boolean);
    case 'union': {
      for (const t of type.types) {
        const trial: Problem[] = [];
        if (check(value, t, path, trial) && !trial.length) return true;
      }
      return report(out, `${path}: matches none of its allowed shapes (${JSON.stringify(value).slice(0, 80)})`);
    }
    case 'ref': {
      const def = db.get('typeDefinition', type.reference.$ref) as TypeDefinition | undefined;
      if (!def) return true;
      if (typeof value !== 'object' || Array.isArray(value)) return report(out, `${path}: expected an object (${def.name})`);
      return checkProperties(value as Record<string, unknown>, def.properties, path, out);
    }
    default:
      return true;
  }
}

function report(out: Problem[], p: Problem): false {
  out.push(p);
  return false;
}

function checkProperties(value: Record<string, unknown>, props: Record<string, { type: PropertyType; required?: boolean }>, path: string, out: Problem[]): boolean {
  let ok = true;
  for (const [k, v] of Object.entries(value)) {
    const spec = props[k];
    if (!spec) {
      ok = report(out, `${path}.${k}: no such property (known: ${Object.keys(props).join(', ')})`);
      continue;
    }
    ok = check(v, spec.type, `${path}.${k}`, out) && ok;
  }
  for (const [k, spec] of Object.entries(props)) {
    if (spec.required && value[k] === undefined) ok = report(out, `${path}.${k}: required`);
  }
  return ok;
}

export interface TemplateLike {
  readonly Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

/** Every problem of a template against the resource specification, each with the resource's logical id and path. */
export function specProblems(template: TemplateLike): string[] {
  const out: Problem[] = [];
  const resources = template.Resources ?? {};
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type.startsWith('Custom::') || r.Type === 'AWS::CDK::Metadata' || r.Type === 'AWS::CloudFormation::CustomResource') continue;
    const spec = resourceOf(r.Type);
    if (!spec) {
      out.push(`${id}: unknown resource type ${r.Type}`);
      continue;
    }
    checkProperties(r.Properties ?? {}, spec.properties, `${id}(${r.Type})`, out);
  }
  // Every Fn::GetAtt names an attribute its resource type has.
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const getAtt = (v as Record<string, unknown>)['Fn::GetAtt'];
      if (Array.isArray(getAtt) && typeof getAtt[0] === 'string' && typeof getAtt[1] === 'string') {
        const target = resources[getAtt[0]];
        if (!target) out.push(`Fn::GetAtt ${getAtt.join('.')}: no resource ${getAtt[0]}`);
        else if (!target.Type.startsWith('Custom::') && target.Type !== 'AWS::CloudFormation::CustomResource') {
          const spec = resourceOf(target.Type);
          if (spec && !(getAtt[1] in spec.attributes)) out.push(`Fn::GetAtt ${getAtt.join('.')}: ${target.Type} has no attribute ${getAtt[1]} (has: ${Object.keys(spec.attributes).join(', ')})`);
        }
      }
      Object.values(v).forEach(walk);
    }
  };
  walk(template);
  return out;
}
