/** Jest: swc transform, tests only from tests/ (never compiled copies in dist/). */
module.exports = {
  roots: ['<rootDir>/tests'],
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest'] },
  setupFilesAfterEnv: ['<rootDir>/tests/setup.ts'],
  testTimeout: 20000,
};
