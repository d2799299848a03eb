// Lint rules of the dashboard. The import boundaries are the point of this file:
//  * a feature (src/features/<name>) never imports another feature, nor the app shell;
//  * shared code (api, components, lib, i18n) never imports a feature or the app shell.
// So features stay independent and shared code stays shared.
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const FEATURES = ['herd', 'cow', 'alerts', 'accuracy', 'settings', 'auth'];

export const boundaryZones = [
  ...FEATURES.map((feature) => ({
    target: `./src/features/${feature}`,
    from: './src/features',
    except: [`./${feature}`],
    message: `A feature must not import another feature: move shared code to src/components, src/lib or src/api.`,
  })),
  {
    target: './src/features',
    from: './src/app',
    message: 'Features must not import the app shell.',
  },
  {
    target: ['./src/components', './src/lib', './src/api', './src/i18n'],
    from: ['./src/features', './src/app'],
    message: 'Shared code must not depend on a feature or on the app shell.',
  },
];

export default tseslint.config(
  { ignores: ['dist', 'node_modules', 'test-artifacts'] },
  {
    files: ['**/*.{ts,tsx}'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: { ecmaVersion: 2022, globals: globals.browser },
    plugins: { 'import-x': importX, 'react-hooks': reactHooks },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.test.json' })],
    },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'import-x/no-restricted-paths': ['error', { zones: boundaryZones }],
      'import-x/no-cycle': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['e2e/**/*.{js,mjs}', 'scripts/**/*.{js,mjs}', '*.config.js'],
    extends: [js.configs.recommended],
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: { ...globals.node, ...globals.browser } },
  },
);
