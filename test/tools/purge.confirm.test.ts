/**
 * `purge` and `dead purge` cannot be undone: off a terminal they need --yes (exit 64 without,
 * nothing deleted), on a terminal they ask, and a "no" deletes nothing.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../helpers/tmp.js'
import { captureIO, runTool } from '../helpers/tool-io.js'
import { recordWithFields, lines } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'

const NUMBER = '+33600112233'

async function deadLetterDir (dir: string): Promise<string> {
  await mkdir(join(dir, 'dead'), { recursive: true })
  const file = join(dir, 'dead', '2026-01-01.ndjson')
  const letter = { record: recordWithFields({ number: NUMBER, text: 'STOP' }), kind: 'optout', target: 'exec:x', error: 'exit 1', attempts: 5, failed_at: '2026-01-01T00:00:00.000Z' }
  await writeFile(file, JSON.stringify(letter) + '\n')
  return file
}

test('dead purge: no --yes off a terminal is refused (64) and deletes nothing; on a terminal it asks', async (t) => {
  const dir = await tempDir(t)
  const file = await deadLetterDir(dir)
  const before = await readFile(file, 'utf8')
  const argv = ['dead', 'purge', '--before', '1d', '--data-dir', dir]
  await assert.rejects(runTool(argv), { code: 'SPOOL_ERR_USAGE', exitCode: 64 })
  assert.equal(await readFile(file, 'utf8'), before)

  const no = captureIO({ stdinIsTTY: true, answer: false })
  await assert.rejects(runTool(argv, no), { code: 'SPOOL_ERR_CANCELLED' })
  assert.match(no.questions[0]!, /delete 1 dead letter\(s\).*cannot be undone/)
  assert.equal(await readFile(file, 'utf8'), before)

  const yes = captureIO({ stdinIsTTY: true, answer: true })
  assert.match((await runTool(argv, yes)).out, /^1 dead letter\(s\) purged/)
  await assert.rejects(readFile(file, 'utf8'), { code: 'ENOENT' })
})

test('purge: no --yes off a terminal is refused (64) and deletes nothing; on a terminal it counts, then asks', async (t) => {
  const dir = await tempDir(t)
  const segment = await writeSegment(dir, 1, lines([recordWithFields({ number: NUMBER, text: 'STOP' })]))
  const path = join(dir, 'spool', segment)
  const before = await readFile(path, 'utf8')
  const argv = ['purge', '--number', NUMBER, '--data-dir', dir]
  await assert.rejects(runTool(argv), { code: 'SPOOL_ERR_USAGE', exitCode: 64 })
  assert.equal(await readFile(path, 'utf8'), before)

  const no = captureIO({ stdinIsTTY: true, answer: false })
  await assert.rejects(runTool(argv, no), { code: 'SPOOL_ERR_CANCELLED' })
  assert.match(no.out(), /would remove 1 records/)
  assert.match(no.questions[0]!, /erase these records of \+336\*+233.*cannot be undone/)
  assert.equal(await readFile(path, 'utf8'), before)

  assert.match((await runTool([...argv, '--yes'])).out, /spool +removed 1 records/)
  assert.equal(await readFile(path, 'utf8'), '')
})
