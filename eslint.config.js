// The linter, run by `npm run lint` and by CI. Besides the recommended rules,
// it holds the architecture's own rules (docs/ARCHITECTURE.md), so that a
// change that breaks one is told so at once:
//  - a command never imports another command;
//  - request parsing and planning are pure: no process, file or network I/O;
//  - no file in src/ is longer than one can read in one sitting (400 lines);
//  - promises are awaited or handed on (a floating one hides a failure, and
//    this tool must report every failure to roll back);
//  - a switch over a step kind or a union is exhaustive.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const io = ['node:child_process', 'node:fs', 'node:fs/promises', 'node:net', 'node:http', 'execa'];
const noIo = (what) => io.map((name) => ({ name, message: `${what} is pure: observe in src/observe, run commands through the runner` }));

export default tseslint.config(
  { ignores: ['dist/**', 'dist.*/**', 'node_modules/**', 'bench-results/**', 'test-results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
      // Control characters in patterns are deliberate here: names are refused
      // when they hold one, and tests strip terminal escapes.
      'no-control-regex': 'off',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'max-lines': ['error', { max: 400, skipBlankLines: false, skipComments: false }],
    },
  },
  {
    files: ['src/commands/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['./*'], message: 'a command never imports another command: move what they share out of src/commands' }],
      }],
    },
  },
  {
    files: ['src/plan/**/*.ts', 'src/request/**/*.ts', 'src/cni/protocol.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [...noIo('planning and request parsing'), { name: '../exec.js', importNames: ['run', 'read', 'readJson', 'runBatch'], message: 'planning is pure: it returns commands, the runner runs them' }],
      }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      globals: {
        process: 'readonly', console: 'readonly', Buffer: 'readonly', require: 'writable', module: 'writable',
        __dirname: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly',
        performance: 'readonly', URL: 'readonly', AbortController: 'readonly', structuredClone: 'readonly', exports: 'writable',
      },
    },
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
);
