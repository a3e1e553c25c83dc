#!/usr/bin/env node
// dist/ is a bundle: with --verbose, stack traces name the lines of src/ through its source maps
// (enabled before the bundle loads, as Node reads a file's map when it loads the file).
if (process.argv.includes('--verbose') || process.env.CALLBACK_SPOOL_VERBOSE !== undefined) process.setSourceMapsEnabled(true)
await import('../dist/main.js')
