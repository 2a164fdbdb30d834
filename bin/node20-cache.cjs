// Node 20 only (it has no module.enableCompileCache): load the bundle with
// the V8 code cache that `npm run build` made beside it, so a start does not
// compile again the functions every run compiles (yargs' set-up, the command
// line). Measured with the bench: about 25 ms of an attach on the 2-core VM.
//
// Read only: a run never writes a cache (root would be writing into the
// install directory). The build makes it (scripts/bundle.mjs, with make()
// below) for the bundle's final path, and the npm package ships none (the
// first line of hostnic.js.cache names the build and the path it was made
// for; V8 gives the compiled script the name it had then). Whatever does not
// match, a missing file, another build, another path, or a cache V8 rejects
// (another Node or V8 flags), means a plain compile, as require() would do.
'use strict';
const fs = require('node:fs');
const { createRequire, wrap } = require('node:module');
const { dirname } = require('node:path');
const { Script } = require('node:vm');

/** The cache's header: the bundle's first line (it names the build) and the path it was made for. */
const stamp = (file, source) => Buffer.from(`${source.slice(0, source.indexOf('\n'))}\n${file}\n`);

function run(script, file) {
  const m = { exports: {} };
  script.runInThisContext().call(m.exports, m.exports, createRequire(file), m, file, dirname(file));
  return m.exports;
}

/** The bundle's exports, compiled with the build's cache when it fits. */
exports.load = (file) => {
  let cachedData;
  let source;
  try {
    source = fs.readFileSync(file, 'utf8');
    const data = fs.readFileSync(`${file}.cache`);
    const head = stamp(file, source);
    if (data.subarray(0, head.length).equals(head)) cachedData = data.subarray(head.length);
  } catch { /* no cache */ }
  if (!cachedData) return require(file);
  return run(new Script(wrap(source), { filename: file, cachedData }), file);
};

/** Build time: run the bundle as a command line would (`attach --help`), then write what V8 compiled. */
exports.make = (file, out) => {
  const source = fs.readFileSync(file, 'utf8');
  const script = new Script(wrap(source), { filename: file });
  process.once('exit', () => fs.writeFileSync(out, Buffer.concat([stamp(file, source), script.createCachedData()])));
  return run(script, file).main(['attach', '--help']);
};
