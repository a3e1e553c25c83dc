/**
 * The log is JSON lines and nothing else, fatal errors included; levels are words; journald gets
 * each line's priority; --log-level; refused requests at warn, rate-limited; idle passes at debug.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fstatSync, openSync, closeSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pino } from 'pino'
import { tempDir } from '../helpers/tmp.js'
import { BIN, REPO, killHard, runCli, startCliReceiver, withoutSpoolEnv } from '../helpers/cli.js'
import { send } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'
import { RateLimitedLog } from '../../src/rate-limited-log.js'

/** Runs the CLI with stdout and stderr both into one file, as `>> log 2>&1` or journald do. */
async function runIntoOneFile (args: string[], file: string, env: (stdout: { dev: bigint, ino: bigint }) => Record<string, string> = () => ({})): Promise<{ code: number | null, text: string }> {
  const fd = openSync(file, 'a')
  try {
    const st = fstatSync(fd, { bigint: true })
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, env: { ...withoutSpoolEnv(process.env), ...env(st) }, stdio: ['ignore', fd, fd] })
    const [code] = await once(child, 'exit') as [number | null]
    return { code, text: await readFile(file, 'utf8') }
  } finally {
    closeSync(fd)
  }
}

function jsonLines (text: string): Array<Record<string, unknown>> {
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
}

test('a fatal error of a service command is a JSON line: alone where stderr is the log, plus one human line on a separate stderr', async (t) => {
  const dir = await tempDir(t)
  const missing = join(dir, 'typo')
  const { code, text } = await runIntoOneFile(['process', '--data-dir', missing], join(dir, 'process.log'))
  assert.equal(code, 66)
  // Every line parses (jq does not stop), and the last one is the error, as a word-level fatal.
  const lines = jsonLines(text)
  assert.equal(lines.length, 1, text)
  assert.equal(lines[0]!.level, 'fatal')
  assert.equal(lines[0]!.code, 'SPOOL_ERR_NO_DATA_DIR')
  assert.equal(lines[0]!.exit_code, 66)
  assert.match(String(lines[0]!.msg), /no data directory at .*typo/)

  const apart = runCli(['process', '--data-dir', missing])
  assert.equal((await apart.exited).code, 66)
  assert.equal(jsonLines(apart.stdout())[0]!.level, 'fatal')
  assert.match(apart.stderr(), /^callback-spool: no data directory at .*typo.*\n$/)
})

test('levels are words; idle passes log at debug only; --log-level picks the threshold', async (t) => {
  const dir = await tempDir(t)
  const data = join(dir, 'data')
  await mkdir(data)
  const quiet = runCli(['process', '--data-dir', data])
  assert.equal((await quiet.exited).code, 0)
  assert.equal(quiet.stdout(), '', 'an idle pass says nothing at info')
  const verbose = runCli(['process', '--data-dir', data, '--log-level', 'debug'])
  assert.equal((await verbose.exited).code, 0)
  const pass = jsonLines(verbose.stdout()).find((l) => String(l.msg).startsWith('pass done'))
  assert.equal(pass?.level, 'debug')
  const bad = runCli(['process', '--data-dir', data, '--log-level', 'loud'])
  assert.equal((await bad.exited).code, 64)
})

test('under journald (JOURNAL_STREAM names stdout) each line starts with its syslog priority; elsewhere it does not', async (t) => {
  const dir = await tempDir(t)
  const journal = await runIntoOneFile(['process', '--data-dir', join(dir, 'typo')], join(dir, 'journal'), (st) => ({ JOURNAL_STREAM: `${st.dev}:${st.ino}` }))
  assert.equal(journal.code, 66)
  assert.match(journal.text, /^<2>\{"level":"fatal",/)
  assert.equal(journal.text.trim().split('\n').length, 1)
  // Another stream's JOURNAL_STREAM (stdout redirected to a file by hand) gets plain JSON.
  const other = await runIntoOneFile(['process', '--data-dir', join(dir, 'typo')], join(dir, 'file'), () => ({ JOURNAL_STREAM: '1:1' }))
  assert.match(other.text, /^\{"level":"fatal",/)
})

test('refused requests are logged at warn with the reason and the client, once per reason in 10 s, never the path', async (t) => {
  const dir = await tempDir(t)
  const token = 'sekrit-token-0123456789'
  const receiver = await startCliReceiver(dir, ['--token', token, '--max-body', '100'])
  t.after(() => killHard(receiver))
  for (let i = 0; i < 5; i++) assert.equal((await send(receiver.port, { path: `/wrong-${token}/stop`, body: 'number=%2B33600112233' })).status, 404)
  assert.equal((await send(receiver.port, { path: `/${token}/x`, body: 'x'.repeat(500) })).status, 413)
  const refusals = (): Array<Record<string, unknown>> => jsonLines(receiver.stdout()).filter((l) => String(l.msg).startsWith('request refused'))
  await waitFor('both refusals logged', () => refusals().length >= 2)
  const [notFound, tooLarge] = refusals()
  assert.equal(notFound!.level, 'warn')
  assert.equal(notFound!.status, 404)
  assert.equal(notFound!.reason, 'no valid token in the URL')
  assert.equal(notFound!.remote_addr, '127.0.0.1')
  assert.equal(tooLarge!.status, 413)
  assert.equal(refusals().length, 2, 'five 404s in a row make one line')
  assert.equal(receiver.stdout().includes(token), false, 'no path, no token')
  assert.equal(receiver.stdout().includes('33600112233'), false, 'no number')
})

test('RateLimitedLog: one line per key per interval; the next says how many were suppressed', () => {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>) } })
  let now = 0
  const limited = new RateLimitedLog(logger, 10_000, () => now)
  assert.equal(limited.log('warn', 'a', { n: 1 }, 'a'), true)
  assert.equal(limited.log('warn', 'a', { n: 2 }, 'a'), false)
  assert.equal(limited.log('warn', 'b', { n: 3 }, 'b'), true)
  now = 9_999
  assert.equal(limited.log('warn', 'a', { n: 4 }, 'a'), false)
  now = 10_000
  assert.equal(limited.log('warn', 'a', { n: 5 }, 'a'), true)
  assert.deepEqual(lines.map((l) => [l.msg, l.n, l.suppressed]), [['a', 1, undefined], ['b', 3, undefined], ['a', 5, 2]])
})
