import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // The server's web page (web/*.js) is linted: it is source, plain browser JavaScript with no build.
  { ignores: ['dist/', 'node_modules/', 'coverage/', '**/*.js', '!web/**/*.js', '**/*.cjs', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always'],
      'no-console': 'error',
    },
  },
  {
    // Tests, benchmarks, scripts and command-line tools talk to a terminal on purpose.
    files: ['test/**', 'bench/**', 'scripts/**', 'src/cli/**', 'src/example/**'],
    rules: { 'no-console': 'off' },
  },
  {
    // The browser names the page uses (the `globals` package is not a dependency of ours).
    files: ['web/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'atob',
          'Blob',
          'createImageBitmap',
          'DecompressionStream',
          'document',
          'fetch',
          'FormData',
          'HTMLInputElement',
          'Image',
          'ResizeObserver',
          'Response',
          'setTimeout',
          'URL',
          'window',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
