#!/usr/bin/env node
// CommonJS (bin/package.json): Node starts a CommonJS entry without its ES module loader.
'use strict'
const { readFileSync, writeFileSync } = require('node:fs')
const { createRequire, Module } = require('node:module')
const { join } = require('node:path')
const vm = require('node:vm')

// dist/main.cjs: the CLI in one file (build.mjs), compiled from V8's code cache beside it.
const MAIN = join(__dirname, '..', 'dist', 'main.cjs')
const CODE_CACHE = `${MAIN}.cache`

// The file is a function expression, the one Node would wrap the module's text in (build.mjs).
const run = (main) => {
  const mainModule = { exports: {}, filename: MAIN, id: MAIN }
  main.call(mainModule.exports, mainModule.exports, createRequire(MAIN), mainModule, MAIN, join(MAIN, '..'))
}

if (process.argv.includes('--verbose') || process.env.CALLBACK_SPOOL_VERBOSE !== undefined) {
  // With --verbose, stack traces name the lines of src/ through the bundle's source map, which
  // Node reads when its module loader compiles a file (enabled first): compiled by that loader,
  // without the cache.
  process.setSourceMapsEnabled(true)
  const loader = new Module(MAIN)
  loader._compile(`module.exports = ${readFileSync(MAIN, 'utf8')}`, MAIN)
  run(loader.exports)
} else {
  let cachedData
  try {
    cachedData = readFileSync(CODE_CACHE)
  } catch {}
  // ASCII (build.mjs checks it), so read as latin1: no UTF-8 to decode. No import() in it either:
  // build.mjs refuses one (code from a code cache cannot run it).
  const script = new vm.Script(readFileSync(MAIN, 'latin1'), { filename: MAIN, cachedData })
  // `npm run build` makes the cache: the functions compiled by the time the process exits.
  if (process.env.CALLBACK_SPOOL_WRITE_CODE_CACHE !== undefined) process.on('exit', () => writeFileSync(CODE_CACHE, script.createCachedData()))
  run(script.runInThisContext())
}
