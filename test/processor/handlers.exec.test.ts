import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ExecHandler } from '../../src/processor/handlers/exec.js'
import { normaliseCallback, type NormalisedCallback } from '../../src/processor/normalise.js'
import { ZonedTimeReader } from '../../src/processor/provider-time.js'
import { tempDir } from '../helpers/tmp.js'
import { fixtureRecord } from '../helpers/records.js'
import { waitFor } from '../helpers/wait.js'

async function sample (): Promise<NormalisedCallback> {
  return normaliseCallback(await fixtureRecord('optout-json.http'), new ZonedTimeReader('Europe/Paris'))
}

/** Whether the process runs (a zombie, ended but not yet reaped, does not). */
async function alive (pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

/** The pid a command wrote to `file`, killed when the test ends. */
async function pidFrom (t: TestContext, file: string): Promise<number> {
  const pid = Number((await readFile(file, 'utf8')).trim())
  assert.ok(pid > 0, `a pid in ${file}`)
  t.after(() => { try { process.kill(pid, 'SIGKILL') } catch {} })
  return pid
}

test('exec handler: a command that exits 0 leaving a background child is done at its exit, not at the timeout', async (t) => {
  const dir = await tempDir(t)
  const pidFile = join(dir, 'pid')
  const h = new ExecHandler('exec:', `sleep 60 & echo $! > ${pidFile}; exit 0`, 30_000)
  assert.deepEqual(await h.handle(await sample()), { outcome: 'done' })
  // Answered while the child that holds the pipes still runs: not bound by the pipes' end.
  assert.ok(await alive(await pidFrom(t, pidFile)), 'the background child is left alone')
})

test('exec handler: a child in its own session holding stdout does not hold the record past the exit', async (t) => {
  const dir = await tempDir(t)
  const pidFile = join(dir, 'pid')
  const h = new ExecHandler('exec:', `setsid sleep 60 & echo $! > ${pidFile}; echo bad >&2; exit 65`, 30_000)
  const result = await h.handle(await sample())
  assert.equal(result.outcome, 'dead')
  assert.match((result as { error: string }).error, /exit 65 \(EX_DATAERR\): bad/)
  assert.ok(await alive(await pidFrom(t, pidFile)))
})

test('exec handler: the timeout ends the call even when a child in its own session keeps the pipes open', async (t) => {
  const dir = await tempDir(t)
  const pidFile = join(dir, 'pid')
  const h = new ExecHandler('exec:', `setsid sleep 60 & echo $! > ${pidFile}; sleep 60`, 300)
  assert.deepEqual(await h.handle(await sample()), { outcome: 'retry', error: 'timed out after 300 ms' })
  // The session child escapes the group kill; the call did not wait for it.
  assert.ok(await alive(await pidFrom(t, pidFile)))
})

test('exec handler: the timeout kills the whole process group', async (t) => {
  const dir = await tempDir(t)
  const pidFile = join(dir, 'pid')
  const h = new ExecHandler('exec:', `sleep 60 & echo $! > ${pidFile}; sleep 60`, 300)
  assert.deepEqual(await h.handle(await sample()), { outcome: 'retry', error: 'timed out after 300 ms' })
  const pid = await pidFrom(t, pidFile)
  await waitFor('the background sleep to be killed', async () => !(await alive(pid)))
})

test('exec handler: the record comes on stdin followed by a newline, so `read -r` takes it', async (t) => {
  const dir = await tempDir(t)
  const out = join(dir, 'record.json')
  const rec = await sample()
  const h = new ExecHandler('exec:', `read -r json && printf '%s' "$json" > ${out}`, 30_000)
  assert.deepEqual(await h.handle(rec), { outcome: 'done' })
  assert.deepEqual(JSON.parse(await readFile(out, 'utf8')), JSON.parse(JSON.stringify(rec)))
})

test('exec handler: the environment has none of the secrets of callback-spool', async (t) => {
  const dir = await tempDir(t)
  const secrets = {
    CALLBACK_SPOOL_TOKEN: 'tok-secret',
    CALLBACK_SPOOL_BASIC_AUTH: 'user:basic-secret',
    CALLBACK_SPOOL_BASIC_AUTH_FILE: '/etc/basic-secret',
    CALLBACK_SPOOL_TWILIO_AUTH_TOKEN: 'twilio-secret',
  }
  const saved = { ...process.env }
  Object.assign(process.env, secrets, { CALLBACK_SPOOL_DATA_DIR: '/srv/spool-data', HANDLER_SETTING: 'kept' })
  t.after(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key]
    Object.assign(process.env, saved)
  })
  const out = join(dir, 'env')
  const rec = await sample()
  const h = new ExecHandler('exec:', `env > ${out}`, 30_000)
  assert.deepEqual(await h.handle(rec), { outcome: 'done' })
  const env = await readFile(out, 'utf8')
  for (const [name, value] of Object.entries(secrets)) {
    assert.ok(!env.includes(name), `${name} is not passed on`)
    assert.ok(!env.includes(value), `the value of ${name} is not passed on`)
  }
  assert.match(env, /^HANDLER_SETTING=kept$/m)
  assert.match(env, /^CALLBACK_SPOOL_DATA_DIR=\/srv\/spool-data$/m)
  assert.match(env, new RegExp(`^CALLBACK_ID=${rec.id}$`, 'm'))
  assert.match(env, /^PATH=/m)
})
