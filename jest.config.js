/**
 * Three jest projects; a test file's name says which one it belongs to (test/packaging/jest-projects.test.ts
 * checks that every test file is in exactly one, and that unit tests start no process or thread):
 *   unit      *.test.ts           in-process only: no build, no child process, no worker thread
 *   contract  *.contract.test.ts  needs dist/ or other programs: the built launchers, CLI and worker threads,
 *                                 python3, sh and git, run as processes
 *   e2e       *.e2e.test.ts       trains networks end to end (the launcher or runTraining); slow
 * `npm run test:unit` needs no build; `npm run test:contract` and `npm run test:e2e` build first.
 */
const CONTRACT = '\\.contract\\.test\\.ts$';
const E2E = '\\.e2e\\.test\\.ts$';

/** What every project shares. */
const common = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  // Type errors are caught by `npm run typecheck`; transpiling only keeps test start-up fast.
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true, diagnostics: false }] },
};

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testRegex: '\\.test\\.ts$',
      testPathIgnorePatterns: ['/node_modules/', CONTRACT, E2E],
    },
    { ...common, displayName: 'contract', testRegex: CONTRACT },
    { ...common, displayName: 'e2e', testRegex: E2E },
  ],
  // Two cores on our machines; tfjs tests are CPU-bound.
  maxWorkers: 2,
  testTimeout: 120000,
};
