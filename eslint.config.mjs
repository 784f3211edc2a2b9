import nx from '@nx/eslint-plugin';
import jest from 'eslint-plugin-jest';
import tseslint from 'typescript-eslint';

/** Libraries that pure libs (contracts, engines) must never import: frameworks and I/O. */
const FRAMEWORKS = [
  '@nestjs/*',
  'typeorm',
  'pg',
  '@electric-sql/*',
  'amqplib',
  'amqp-connection-manager',
  'ioredis',
  'express',
  '@kubernetes/*',
];

export default [
  { ignores: ['dist/**', 'node_modules/**', '.nx/**', 'coverage/**', 'tmp/**', '**/__fixtures__/**', 'clients/**'] },
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // The architecture, enforced: apps never import apps, pure libs import no framework.
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allowCircularSelfDependency: false,
          depConstraints: [
            {
              sourceTag: 'type:app',
              onlyDependOnLibsWithTags: ['type:contracts', 'type:engine', 'type:data', 'type:platform', 'type:sdk', 'type:testing'],
            },
            { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: ['type:contracts'], bannedExternalImports: FRAMEWORKS },
            { sourceTag: 'type:engine', onlyDependOnLibsWithTags: ['type:contracts', 'type:engine'], bannedExternalImports: FRAMEWORKS },
            { sourceTag: 'type:data', onlyDependOnLibsWithTags: ['type:contracts', 'type:engine', 'type:testing'] },
            { sourceTag: 'type:platform', onlyDependOnLibsWithTags: ['type:contracts', 'type:platform', 'type:testing'] },
            { sourceTag: 'type:sdk', onlyDependOnLibsWithTags: ['type:contracts', 'type:sdk'], bannedExternalImports: ['@nestjs/*', 'typeorm', 'pg'] },
            { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:contracts', 'type:sdk', 'type:testing'] },
            { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:contracts', 'type:engine', 'type:data', 'type:platform'] },
          ],
        },
      ],
      // One entry point per lib.
      'no-restricted-imports': ['error', { patterns: [{ group: ['@myelin/*/src', '@myelin/*/src/*'], message: 'import the lib by its entry point (@myelin/<lib>)' }] }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      // Definite assignment after a check the compiler cannot follow is a fair use of '!'.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Decorated config/DTO fields keep their annotation: it is the design:type metadata conversions rely on.
      '@typescript-eslint/no-inferrable-types': ['error', { ignoreProperties: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.integration-spec.ts', '**/*.e2e-spec.ts'],
    plugins: { jest },
    rules: {
      'jest/valid-expect': 'error',
      'jest/no-disabled-tests': 'error',
      'jest/no-focused-tests': 'error',
      'jest/expect-expect': ['error', { assertFunctionNames: ['expect', 'expect*'] }],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly', require: 'readonly', module: 'writable', __dirname: 'readonly', console: 'readonly', Buffer: 'readonly' } },
  },
];
