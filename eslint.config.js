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
              group: ['**/activities', '**/activities/**', '**/db', '**/db/**', '**/api', '**/api/**', '**/workers', '**/workers/**', '../runtime', '../runtime/**', '../domain/**', '../scripts/**'],
              allowTypeImports: true,
              message: 'Workflows run in the sandbox: everything outside contracts/ and @temporalio/workflow is types only; call activities through proxyActivities.',
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
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/api/*', '**/api/**', '**/workers/*', '**/workers/**', '**/workflows/*', '**/scripts/**'], message: 'Activities may use db/, domain/, runtime/ and contracts/ only (ARCHITECTURE.md).' }] }],
    },
  },
  {
    files: ['api/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/activities/*', '**/activities/**', '**/workers/*', '**/workers/**', '**/workflows/*', '**/scripts/**'], message: 'The API starts workflows by name through the client; it never imports worker code.' }] }],
    },
  },
  {
    files: ['runtime/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(\\.\\.?/)+(api|activities|workers|workflows|domain|db|client|scripts|test)(/|$)', message: 'runtime/ is shared infrastructure (config, logger, Temporal connection): it imports only contracts/ (ARCHITECTURE.md).' }] }],
    },
  },
  {
    files: ['domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(\\.\\.?/)+(api|activities|workers|workflows|client|scripts|test)(/|$)', message: 'domain/ holds rules the API and the activities share: it may import db/, contracts/ and runtime/ only (ARCHITECTURE.md).' }] }],
    },
  },
  {
    files: ['workers/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(\\.\\.?/)+(api|scripts|test|client)(/|$)', message: 'Workers are a composition root: everything but the API, the client and dev tooling (ARCHITECTURE.md).' }] }],
    },
  },
  {
    files: ['client/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(\\.\\.?/)+(activities|workers|workflows|db|runtime|domain|scripts|test)(/|$)', message: 'The client package ships alone: it may import the API schemas and contracts as types only.' }, { regex: '^(\\.\\.?/)+(api|contracts)(/|$)', allowTypeImports: true, message: 'The client package ships alone: it may import the API schemas and contracts as types only.' }] }],
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
