import { GatewayError, InvalidRequestError, QuotaExceededError } from '../../../lambda/core/errors';
import { ProviderError } from '../../../lambda/core/ports';

/**
 * A lazy chunk of the router bundle carries its own copy of the modules it imports: an error made by that copy must
 * still be recognised by the entry's `instanceof` (toErrorBody, the fallback policy). Jest's isolated registry loads
 * such a second copy here.
 */
describe('error identity across module copies', () => {
  let copy: { errors: typeof import('../../../lambda/core/errors'); ports: typeof import('../../../lambda/core/ports') };
  beforeAll(() => {
    jest.isolateModules(() => {
      copy = {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        errors: require('../../../lambda/core/errors'),
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        ports: require('../../../lambda/core/ports'),
      };
    });
  });

  it('loads a second copy of each class', () => {
    expect(copy.errors.GatewayError).not.toBe(GatewayError);
    expect(copy.ports.ProviderError).not.toBe(ProviderError);
  });

  it('recognises a GatewayError and a ProviderError made by the other copy', () => {
    expect(new copy.errors.InvalidRequestError('bad', 'model')).toBeInstanceOf(GatewayError);
    expect(new copy.ports.ProviderError('slow down', 'throttled', 429)).toBeInstanceOf(ProviderError);
  });

  it('keeps the ordinary check for subclasses and for unrelated values', () => {
    expect(new InvalidRequestError('bad')).toBeInstanceOf(InvalidRequestError);
    expect(new InvalidRequestError('bad')).not.toBeInstanceOf(QuotaExceededError);
    expect(new Error('plain')).not.toBeInstanceOf(GatewayError);
    expect({ status: 400, type: 'invalid_request_error' }).not.toBeInstanceOf(GatewayError);
    expect(null).not.toBeInstanceOf(ProviderError);
    expect(new GatewayError('x', 400, 'invalid_request_error', 'c')).not.toBeInstanceOf(ProviderError);
  });
});
