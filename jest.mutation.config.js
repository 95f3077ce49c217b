/** Jest for the threshold mutation run (npm run mutation:thresholds): slow by design, so not part of npm test. */
const base = require('./jest.config.js');
// No dist/ build: these suites call the pipeline in process.
module.exports = { ...base, globalSetup: null, testMatch: ['<rootDir>/tests/mutation/**/*.mutation.ts'], testTimeout: 600000 };
