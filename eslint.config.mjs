import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'assets/', 'cdk.out/', 'coverage/', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['lambda/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: ['@aws-sdk/*', 'node:fs', 'fs', 'node:http', 'node:https', 'http', 'https', '../adapters/*', '../handlers/*'],
      }],
      'no-restricted-globals': ['error', 'fetch', 'process'],
    },
  },
);
