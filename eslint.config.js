// ESLint flat config. The rule that matters most: workflow code must stay
// deterministic, so `workflows/` may not import Node built-ins, and may import
// activities, db and api code only as types.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/', '.tools/', '.data/', 'dist/', 'coverage/', 'test-results/', 'bench/results/', 'db/migrations/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'Use an `as const` object instead of enum.' }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    languageOptions: { globals: {} },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflow code runs in a deterministic sandbox: no Node built-ins.' })),
          patterns: [
            {
              group: ['**/activities', '**/activities/*', '**/db', '**/db/*', '**/api', '**/api/*', '**/workers', '**/workers/*'],
              allowTypeImports: true,
              message: 'Workflows may import activities (and db/api/workers) as types only; call activities through proxyActivities.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'setInterval', message: 'Use sleep() in a loop from @temporalio/workflow.' },
      ],
    },
  },
  {
    files: ['contracts/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Contracts are imported by workflows: keep them sandbox-safe.' })),
          patterns: [{ group: ['**/activities/*', '**/db/*', '**/api/*', '**/workers/*', '**/runtime/*'], message: 'Contracts are a leaf shared by every layer.' }],
        },
      ],
    },
  },
  {
    files: ['activities/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/api/*', '**/workers/*', '**/workflows/*'], message: 'Activities may use db/ and contracts/ only (DESIGN.md).' }] }],
    },
  },
  {
    files: ['api/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/activities/*', '**/workers/*', '**/workflows/*'], message: 'The API starts workflows by name through the client; it never imports worker code.' }] }],
    },
  },
  {
    files: ['db/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/api/*', '**/activities/*', '**/workers/*', '**/workflows/*', '**/contracts/*'], message: 'db/ is a leaf: it imports nothing of the app.' }] },
      ],
    },
  },
);
