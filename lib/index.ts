export * from './gateway/router-function';
export * from './platform/reference-platform-stack';
