/** `callback-spool up` end to end: a POSTed fixture reaches <data-dir>/out/<kind>.ndjson; SIGTERM stops it with exit 0. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../helpers/tmp.js'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { killHard, REPO, runCli, waitListening, withoutSpoolEnv, type CliProcess } from '../helpers/cli.js'
import { loadFixture } from '../helpers/fixtures.js'
import { send } from '../helpers/http.js'

async function ndjsonLines (path: string): Promise<Array<Record<string, unknown>>> {
  try {
    return (await readFile(path, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
  } catch {
    return []
  }
}

test('up: each POSTed fixture shows up in out/<kind>.ndjson within seconds; SIGTERM exits 0', async (t) => {
  const dir = await tempDir(t)
  const up = await waitListening(runCli(['up', '--port', '0', '--host', '127.0.0.1', '--data-dir', dir]))
  t.after(async () => {
    await killHard(up)
    // Should up itself have died, its children must not outlive the test.
    for (const m of up.stdout().matchAll(/"child_pid":(\d+)/g)) {
      try { process.kill(Number(m[1]), 'SIGKILL') } catch {}
    }
  })
  const cases = [['optout-form.http', 'optout'], ['delivery-json.http', 'delivery'], ['reply-form-legacy.http', 'reply']] as const
  const latencies: number[] = []
  for (const [name, kind] of cases) {
    const fixture = loadFixture(name)
    const sent = Date.now()
    const res = await send(up.port, { path: fixture.target, headers: { 'content-type': String(fixture.headers['content-type']) }, body: fixture.body })
    assert.equal(res.status, 200)
    assert.equal(res.body.length, 0)
    const out = join(dir, 'out', `${kind}.ndjson`)
    const until = sent + 10_000
    let found: Array<Record<string, unknown>> = []
    while ((found = await ndjsonLines(out)).length === 0) {
      if (Date.now() > until) throw new Error(`${name} did not reach ${out} within 10 s; up said: ${up.stdout().slice(-2000)}`)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    latencies.push(Date.now() - sent)
    assert.equal(found.length, 1)
    assert.equal(found[0]!.kind, kind)
    assert.equal(typeof found[0]!.id, 'string')
  }
  t.diagnostic(`POST -> out/<kind>.ndjson latency through up: ${latencies.join(', ')} ms`)
  up.child.kill('SIGTERM')
  const { code, signal } = await up.exited
  assert.equal(signal, null)
  assert.equal(code, 0)
})

test('npm start: a SIGTERM sent to npm reaches up, which stops both children and exits 0', { timeout: 30_000 }, async (t) => {
  const dir = await tempDir(t)
  // The later --data-dir wins over the script's own `--data-dir data`, so the test never touches data/.
  const child = spawn('npm', ['start', '--', '--port', '0', '--host', '127.0.0.1', '--data-dir', dir], {
    cwd: REPO,
    env: withoutSpoolEnv(process.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c })
  child.stderr.setEncoding('utf8').on('data', (c: string) => { err += c })
  const npm: CliProcess = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited: once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null })),
  }
  const childPids = (): number[] => [...out.matchAll(/"child_pid":(\d+)/g)].map((m) => Number(m[1]))
  t.after(async () => {
    await killHard(npm)
    for (const pid of childPids()) {
      try { process.kill(pid, 'SIGKILL') } catch {}
    }
  })
  const up = await waitListening(npm)
  const res = await send(up.port, { path: '/', body: 'message_id=m1&stop_date=2020-11-04+11%3A11%3A45' })
  assert.equal(res.status, 200)
  const pids = childPids()
  assert.equal(pids.length, 2, out)

  child.kill('SIGTERM')
  const { code, signal } = await npm.exited
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, err)
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `child ${pid} outlived npm start`)
})
