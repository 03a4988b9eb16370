import { readFileSync } from 'node:fs';
import type { GatewayConfigDocument } from '../../lambda/contract';

const BRAND = Symbol.for('cdk-llm-finops.GatewayConfig');

/**
 * The gateway's config document (providers, models, routing, tenants, quotas, cache: see
 * schema/gateway-config.schema.json and the config reference in docs/), as the constructs take it.
 *
 * A class rather than the document's type so that every jsii language can pass one: Python, Java, .NET and Go give a
 * plain dictionary or map to `fromObject`, or a JSON file's path to `fromFile`. TypeScript callers may type their
 * object as `GatewayConfigDocument` for checking as they write it.
 *
 * The constructs validate it at synth, field by field, with the router's own checks (a config the router would refuse
 * at cold start fails `cdk synth` instead); values only known at deploy (tokens) are checked at cold start.
 */
export class GatewayConfig {
  /** Whether `x` is a GatewayConfig (also one made by another copy of this library). */
  static isGatewayConfig(x: any): x is GatewayConfig {
    return x !== null && typeof x === 'object' && BRAND in x;
  }

  /**
   * The document of a construct's config prop, or a clear error for anything else (a plain object from an untyped
   * caller, or the document itself as 0.0.x took it).
   * @internal
   */
  static _documentOf(config: unknown, prop: string): GatewayConfigDocument {
    if (GatewayConfig.isGatewayConfig(config)) return config._document;
    const got = config === undefined ? 'nothing' : config === null ? 'null' : Array.isArray(config) ? 'an array' : typeof config === 'object' ? 'a plain object' : typeof config;
    throw new Error(`${prop}: expected a GatewayConfig (GatewayConfig.fromFile(path) or GatewayConfig.fromObject(document)), got ${got}`);
  }

  /**
   * A document given as an object (the JSON shape of examples/platform/gateway.json). It is kept by reference: build
   * it first, then pass it.
   */
  static fromObject(document: { [key: string]: any }): GatewayConfig {
    if (document === null || typeof document !== 'object' || Array.isArray(document)) {
      throw new Error(`GatewayConfig.fromObject: expected the config document as an object, got ${document === null ? 'null' : Array.isArray(document) ? 'an array' : typeof document}`);
    }
    return new GatewayConfig(document as GatewayConfigDocument);
  }

  /** The document in a JSON file (for example examples/platform/gateway.json), read when called. */
  static fromFile(path: string): GatewayConfig {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new Error(`GatewayConfig.fromFile: cannot read ${path}: ${(e as Error).message}`, { cause: e });
    }
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (e) {
      throw new Error(`GatewayConfig.fromFile: ${path} is not JSON: ${(e as Error).message}`, { cause: e });
    }
    if (document === null || typeof document !== 'object' || Array.isArray(document)) {
      throw new Error(`GatewayConfig.fromFile: ${path} holds JSON but not an object (the config document is one)`);
    }
    return new GatewayConfig(document as GatewayConfigDocument);
  }

  /** @internal */
  readonly _document: GatewayConfigDocument;

  private constructor(document: GatewayConfigDocument) {
    this._document = document;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** The document, as the router reads it (tokens unresolved); `JSON.stringify(config)` writes it. */
  toJSON(): { [key: string]: any } {
    return this._document;
  }
}
