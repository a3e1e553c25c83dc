/**
 * Option values: 0 has one meaning per option, absurd values are refused, and a bad value says
 * where it came from (flag, environment variable, config file key) and exits 64 for the command
 * line, 78 for the environment or the file.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { createProgram } from '../../src/cli.js'
import { processOptionsFrom } from '../../src/processor/options.js'
import { deleteOldSegments } from '../../src/processor/retention.js'
import { dataLayout } from '../../src/spool/layout.js'
import { BIN, REPO, withoutSpoolEnv } from '../helpers/cli.js'
import { writeSegment } from '../helpers/spool.js'
import { tempDir } from '../helpers/tmp.js'

/** Runs the CLI to its exit; every case here fails its checks before doing anything. */
function cli (args: string[], env: Record<string, string> = {}): { code: number | null, stderr: string } {
  const run = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO, env: { ...withoutSpoolEnv(process.env), ...env }, encoding: 'utf8', timeout: 30_000 })
  return { code: run.status, stderr: run.stderr }
}

function processDefaults (): Record<string, unknown> {
  return createProgram().commands.find((c) => c.name() === 'process')!.opts()
}

test('--retain 0, however written, keeps every segment; it never means "delete now"', async (t) => {
  for (const zero of ['0', '0s', '0d']) {
    assert.equal(processOptionsFrom({ ...processDefaults(), retain: zero }).retainMs, 0, zero)
  }
  const dir = await tempDir(t)
  const spool = dataLayout(dir).spool
  const names = [await writeSegment(dir, 1, '{}\n'), await writeSegment(dir, 2, '{}\n'), await writeSegment(dir, 3, '')]
  const old = new Date(Date.now() - 30 * 86_400_000)
  for (const name of names) await utimes(join(spool, name), old, old)
  const checkpoint = { segment: names[2]!, offset: 0 }
  assert.deepEqual(await deleteOldSegments(spool, checkpoint, 0), [])
  // The same segments do go with a retention they are older than: the test can fail.
  assert.deepEqual(await deleteOldSegments(spool, checkpoint, 86_400_000), names.slice(0, 2))
})

test('--handler-timeout 0 and other zero or absurd values are refused on the command line with exit 64', () => {
  const cases: Array<[string[], RegExp]> = [
    [['process', '--handler-timeout', '0'], /`--handler-timeout` to be a duration above 0/],
    [['process', '--handler-timeout', '0s'], /`--handler-timeout` to be a duration above 0/],
    [['process', '--handler-timeout', '2h'], /`--handler-timeout` to be at most 1h, got `2h`/],
    [['process', '--tries', '1000'], /`--tries` to be at most 10/],
    [['process', '--poll-interval', '0'], /`--poll-interval` to be a duration above 0/],
    [['receive', '--max-body', '1GiB'], /`--max-body` to be at most 64 MiB/],
    [['receive', '--request-timeout', '0'], /`--request-timeout` to be a duration above 0/],
    [['receive', '--port', '99999'], /`--port` to be a port number/],
    [['receive', '--durability', 'sync'], /sync/],
    [['up', '--port', 'http'], /`--port` to be a port number/],
  ]
  for (const [args, message] of cases) {
    const run = cli([...args, '--data-dir', '/nonexistent/callback-spool-test'])
    assert.equal(run.code, 64, `${args.join(' ')}: ${run.stderr}`)
    assert.match(run.stderr, message, args.join(' '))
  }
})

test('a bad value from the environment names the variable, not the flag, and exits 78', () => {
  const port = cli(['receive', '--data-dir', '/nonexistent/callback-spool-test'], { CALLBACK_SPOOL_PORT: '99999' })
  assert.equal(port.code, 78, port.stderr)
  assert.match(port.stderr, /`CALLBACK_SPOOL_PORT` to be a port number .* \(from the environment/)
  assert.doesNotMatch(port.stderr, /--port/)

  const durability = cli(['receive', '--data-dir', '/nonexistent/callback-spool-test'], { CALLBACK_SPOOL_DURABILITY: 'sync' })
  assert.equal(durability.code, 78, durability.stderr)
  assert.match(durability.stderr, /CALLBACK_SPOOL_DURABILITY/)

  const timeout = cli(['process', '--data-dir', '/nonexistent/callback-spool-test'], { CALLBACK_SPOOL_HANDLER_TIMEOUT: '0' })
  assert.equal(timeout.code, 78, timeout.stderr)
  assert.match(timeout.stderr, /`CALLBACK_SPOOL_HANDLER_TIMEOUT` to be a duration above 0/)
})

test('a bad value from the config file names the key and the file, and exits 78; mixed with a flag, still 78', async (t) => {
  const path = join(await tempDir(t), 'cs.json')
  await writeFile(path, JSON.stringify({ port: 'http' }))
  const run = cli(['--config', path, 'receive', '--data-dir', '/nonexistent/callback-spool-test', '--max-body', '0'])
  assert.equal(run.code, 78, run.stderr)
  assert.match(run.stderr, new RegExp(`\`port\` to be a port number .* \\(key in config file ${path}\\)`))
  assert.match(run.stderr, /`--max-body` to be a positive size/)
})
