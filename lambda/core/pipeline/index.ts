export { Gateway } from './gateway';
export { Receipt, type ReceiptLine, type UsageFlag } from './receipt';
export type { ChatInvocation, GatewayDeps, GatewayResult, Headers, JsonResult, StreamResult } from './types';
