import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../helpers/tmp.js'
import { parseStrace, skipWithoutStrace } from '../helpers/strace.js'

const FSUTIL = new URL('../../src/fs/durable.ts', import.meta.url).href

test('ensureDir creates 0750 directories and fsyncs the parent of each one it created', async (t) => {
  if (skipWithoutStrace(t, 'to see the fsync of each new directory\'s parent')) return
  const dir = await tempDir(t)
  const target = join(dir, 'a', 'b', 'c')
  const log = join(dir, 'strace.log')
  execFileSync('strace', ['-f', '-ttt', '-T', '-y', '-e', 'trace=mkdir,fsync', '-o', log,
    process.execPath, '--import', 'tsx', '-e', `import(${JSON.stringify(FSUTIL)}).then((m) => m.ensureDir(${JSON.stringify(target)}))`])
  const synced = parseStrace(readFileSync(log, 'utf8'))
    .map((e) => /^fsync\(\d+<([^>]+)>\) = 0/.exec(e.text)?.[1])
    .filter((p): p is string => p !== undefined)
  // The entries of a, b and c live in dir, a and b.
  for (const parent of [dir, join(dir, 'a'), join(dir, 'a', 'b')]) assert.ok(synced.includes(parent), `${parent} fsynced: ${synced.join(', ')}`)
  for (const d of [join(dir, 'a'), join(dir, 'a', 'b'), target]) assert.equal(statSync(d).mode & 0o777, 0o750)
})
