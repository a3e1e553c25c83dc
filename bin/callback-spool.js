#!/usr/bin/env node
// CommonJS (bin/package.json): Node starts a CommonJS entry without its ES module loader.
'use strict'
const { readFileSync, writeFileSync } = require('node:fs')
const { createRequire } = require('node:module')
const { join } = require('node:path')
const vm = require('node:vm')

// dist/main.cjs: the CLI in one file (build.mjs), compiled from V8's code cache beside it.
const MAIN = join(__dirname, '..', 'dist', 'main.cjs')
const CODE_CACHE = `${MAIN}.cache`

if (process.argv.includes('--verbose') || process.env.CALLBACK_SPOOL_VERBOSE !== undefined) {
  // With --verbose, stack traces name the lines of src/ through the bundle's source map, which
  // Node reads when it loads a file (enabled first): loaded by require(), without the cache.
  process.setSourceMapsEnabled(true)
  require(MAIN)
} else {
  let cachedData
  try {
    cachedData = readFileSync(CODE_CACHE)
  } catch {}
  // The function around a CommonJS module, as Node's own loader makes it.
  const source = `(function (exports, require, module, __filename, __dirname) { ${readFileSync(MAIN, 'utf8')}\n});`
  // No import() in it: build.mjs refuses one (code from a code cache cannot run it).
  const script = new vm.Script(source, { filename: MAIN, cachedData })
  // `npm run build` makes the cache: the functions compiled by the time the process exits.
  if (process.env.CALLBACK_SPOOL_WRITE_CODE_CACHE !== undefined) process.on('exit', () => writeFileSync(CODE_CACHE, script.createCachedData()))
  const module = { exports: {}, filename: MAIN, id: MAIN }
  script.runInThisContext().call(module.exports, module.exports, createRequire(MAIN), module, MAIN, join(MAIN, '..'))
}
