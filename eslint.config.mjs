import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'assets/', 'cdk.out/', 'coverage/', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // The stream body is an async generator that closes over the pipeline.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['self'] }],
    },
  },
  {
    // jsii maps JSON documents as { [key: string]: any }.
    files: ['lib/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
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
