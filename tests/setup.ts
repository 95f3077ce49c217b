// Jest setup: nock patches Node's http modules, which every test file of a worker shares. Restoring (and not
// re-activating) at the end of each file removes this file's interceptor, so the next file neither trips over it
// ("Cannot convert undefined or null to object", spec/tooling.md) nor reads it after jest soft-deleted its globals
// (the JEST-01 deprecation warning); the next file's own `import nock` activates a fresh one.
import nock from 'nock';

afterAll(() => {
  nock.cleanAll();
  nock.enableNetConnect();
  nock.restore();
});
