// Jest setup: nock must be restored after each test file or later files fail (see spec/tooling.md).
import nock from 'nock';

afterAll(() => {
  nock.cleanAll();
  nock.enableNetConnect();
  nock.restore();
  nock.activate();
});
