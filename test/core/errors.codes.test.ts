/**
 * The error table, as fastify's test/internals/errors.test.js keeps it: every code is in
 * src/errors.ts, every error class carries a listed code and exit code, and the README's tables
 * list each code and each exit code (and no code that does not exist).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as errors from '../../src/errors.js'
import { CallbackSpoolError, ERROR_CODES, type ErrorCode } from '../../src/errors.js'

const root = new URL('../..', import.meta.url).pathname

/** The body of the README's `### title` section (under "Operating it"), up to the next heading. */
async function readmeSection (title: string): Promise<string> {
  const readme = await readFile(join(root, 'README.md'), 'utf8')
  const start = readme.indexOf(`\n### ${title}\n`)
  assert.notEqual(start, -1, `the README has a "### ${title}" section`)
  const end = readme.slice(start + 1).search(/\n##+ /)
  return readme.slice(start, end === -1 ? undefined : start + 1 + end)
}

/** The cells of each table row of a section, the header and the rule left out. */
function tableRows (section: string): string[][] {
  return section.split('\n')
    .filter((line) => line.startsWith('|') && !line.startsWith('|---'))
    .map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()))
    .slice(1)
}

const codes = Object.keys(ERROR_CODES) as ErrorCode[]

test('each listed code is its own name, and each has at least one exit code', () => {
  assert.ok(codes.length >= 18)
  for (const code of codes) {
    assert.match(code, /^SPOOL_ERR_[A-Z_]+$/)
    assert.ok(ERROR_CODES[code].length > 0, code)
  }
})

test('every error class carries a listed code, with one of its listed exit codes', () => {
  const denied = Object.assign(new Error('EACCES'), { code: 'EACCES' })
  const samples: CallbackSpoolError[] = [
    new errors.UsageError('u'),
    new errors.ConfigError('c'),
    new errors.ConfigMistakesError([new errors.ConfigError('a'), new errors.ConfigError('b')]),
    new errors.NoInputError('SPOOL_ERR_NO_DATA_DIR', 'n'),
    new errors.NoInputError('SPOOL_ERR_NOT_DATA_DIR', 'n'),
    new errors.NoInputError('SPOOL_ERR_NO_SPOOL', 'n'),
    new errors.LockHeldError('receiver', '/d', 'pid 1'),
    new errors.LockHeldError('processor', '/d', 'pid 1', 'replay'),
    new errors.SpoolWriteError('w'),
    new errors.SpoolClosedError(),
    new errors.CheckpointError('c'),
    new errors.LockFileError('l'),
    new errors.LockFileError('l', { cause: denied }),
    new errors.ListenError('l', { exitCode: 69 }),
    new errors.ListenError('l', { exitCode: 77 }),
    new errors.LinkRefusedError('/d/spool', '/tmp'),
    new errors.PermissionError('p'),
    new errors.DataDirNotWritableError('d', { exitCode: 73 }),
    new errors.DataDirNotWritableError('d', { exitCode: 77 }),
    new errors.BodyTooLargeError('b'),
    new errors.BodyAbortedError('b'),
    new errors.CancelledError('c'),
    new errors.NotFoundError('n'),
    new errors.ServerUnavailableError('s'),
  ]
  for (const err of samples) {
    assert.ok(codes.includes(err.code), `${err.name}: ${err.code} is listed`)
    assert.ok((ERROR_CODES[err.code] as readonly number[]).includes(err.exitCode), `${err.name}: exit ${err.exitCode} is listed for ${err.code}`)
  }
  // A new error class without a sample here fails this test.
  const classes = Object.values(errors).filter((value) => typeof value === 'function' && value.prototype instanceof CallbackSpoolError)
  for (const cls of classes) assert.ok(samples.some((s) => s.constructor === cls), `a sample of ${(cls as { name: string }).name}`)
  // Each listed code is carried by some class.
  assert.deepEqual([...new Set(samples.map((s) => s.code))].sort(), [...codes].sort())
})

test('no code is made up outside src/errors.ts', async () => {
  const files = (await readdir(join(root, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts') && f !== 'errors.ts')
  const found: string[] = []
  for (const file of files) {
    const text = await readFile(join(root, 'src', file), 'utf8')
    for (const m of text.matchAll(/['"`](SPOOL_ERR_[A-Z_]*)['"`]/g)) {
      if (!codes.includes(m[1] as ErrorCode)) found.push(`${file}: ${m[1]}`)
    }
    if (/new CallbackSpoolError\(/.test(text)) found.push(`${file}: new CallbackSpoolError(`)
  }
  assert.deepEqual(found, [])
})

test("the README's error table lists each code once, with its exit codes, and no other", async () => {
  const rows = tableRows(await readmeSection('Error codes'))
  const documented = rows.map((cells) => cells[0]!.replaceAll('`', ''))
  assert.deepEqual([...documented].sort(), [...codes].sort())
  for (const cells of rows) {
    const code = cells[0]!.replaceAll('`', '') as ErrorCode
    assert.deepEqual(cells[1]!.split(',').map((n) => Number(n.trim())), [...ERROR_CODES[code]], `${code}: its exit codes`)
    assert.ok(cells[2]!.length > 0 && cells[3]!.length > 0, `${code}: what it means, what to do`)
  }
})

test("the README's exit-code table has a row for each exit code an error can end with", async () => {
  const rows = tableRows(await readmeSection('Exit codes'))
  const documented = new Set(rows.map((cells) => Number(cells[0])))
  for (const exit of new Set(Object.values(ERROR_CODES).flat())) assert.ok(documented.has(exit), `exit ${exit} is in the table`)
  assert.ok(documented.has(0))
})
