/** Jest: swc transform, tests only from tests/ (never compiled copies in dist/). */
module.exports = {
  roots: ['<rootDir>/tests'],
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest'] },
  // dist/ is built once for the suites that spawn the built server or CLI.
  globalSetup: '<rootDir>/tests/global-setup.ts',
  setupFilesAfterEnv: ['<rootDir>/tests/setup.ts'],
  testTimeout: 20000,
};
