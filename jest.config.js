/** @type {import('jest').Config} */
module.exports = {
  // Node, with a temp directory per test file removed at its end (test/support/temp-dir-environment.js).
  testEnvironment: '<rootDir>/test/support/temp-dir-environment.js',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  testTimeout: 30000,
};
