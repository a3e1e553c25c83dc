/**
 * A data dir that does not exist, or is not a directory, is refused by every command but the
 * receiver (exit 66, one line), and nothing is created in its place: a typo must not look like an
 * empty spool.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../helpers/tmp.js'
import { runTool } from '../helpers/tool-io.js'
import { runCli } from '../helpers/cli.js'

const COMMANDS = [
  ['process'],
  ['status'],
  ['cat'],
  ['verify'],
  ['replay', '--all', '--yes'],
  ['dead', 'list'],
  ['dead', 'retry'],
  ['dead', 'purge', '--before', '1d', '--yes'],
  ['purge', '--number', '+33600112233', '--yes'],
]

test('every command but the receiver refuses a data dir that does not exist, and creates nothing', async (t) => {
  const dir = await tempDir(t)
  const missing = join(dir, 'typo')
  for (const argv of COMMANDS) {
    await assert.rejects(runTool([...argv, '--data-dir', missing]), { code: 'SPOOL_ERR_NO_DATA_DIR', exitCode: 66 }, argv.join(' '))
  }
  assert.deepEqual(await readdir(dir), [])
})

test('every command refuses a data dir that is a file', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'file')
  await writeFile(file, 'not a data dir\n')
  for (const argv of COMMANDS) {
    await assert.rejects(runTool([...argv, '--data-dir', file]), { code: 'SPOOL_ERR_NOT_DATA_DIR', exitCode: 66 }, argv.join(' '))
  }
})

test('an existing empty data dir is one: the processor runs on it before the receiver ever has', async (t) => {
  const dir = await tempDir(t)
  const data = join(dir, 'data')
  await mkdir(data)
  assert.equal((await runTool(['process', '--data-dir', data])).code, 0)
  assert.equal((await runTool(['dead', 'list', '--data-dir', data])).out, 'no dead letters\n')
})

test('the real CLI: `process --data-dir TYPO` exits 66 with one line on stderr', async (t) => {
  const dir = await tempDir(t)
  const cli = runCli(['process', '--data-dir', join(dir, 'typo')])
  const { code } = await cli.exited
  assert.equal(code, 66)
  const err = cli.stderr().trim().split('\n')
  assert.equal(err.length, 1, cli.stderr())
  assert.match(err[0]!, /no data directory at .*typo: check --data-dir/)
  await assert.rejects(stat(join(dir, 'typo')), { code: 'ENOENT' })
})
