// Test-only entry of an evaluation thread: compiles the TypeScript sources on the fly with @swc/core (as jest
// does), so the pool tests run src/eval-worker.ts itself rather than a build in dist/.
const fs = require('node:fs');
const path = require('node:path');
const { transformSync } = require('@swc/core');

require.extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};

module.exports = require(path.join(__dirname, '..', '..', 'src', 'eval-worker.ts'));
