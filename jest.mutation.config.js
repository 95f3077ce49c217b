/** Jest for the threshold mutation run (npm run mutation:thresholds): slow by design, so not part of npm test. */
const base = require('./jest.config.js');
module.exports = { ...base, testMatch: ['<rootDir>/tests/mutation/**/*.mutation.ts'], testTimeout: 600000 };
