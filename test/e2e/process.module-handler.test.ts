import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ModuleHandler } from '../../src/processor/handlers/module.js'
import { parseRoute } from '../../src/processor/dispatch.js'
import { runProcessCommand, EXIT_TEMPFAIL } from '../../src/processor/run.js'
import { tempDir } from '../helpers/tmp.js'
import { silentLogger } from '../helpers/logger.js'
import { deliveryRecord, lines } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { processorOptions } from '../helpers/processor.js'
import { runCli } from '../helpers/cli.js'

const noSignals = (): void => {}

/** A data dir with one delivery record, and a module handler of `source` for it. */
async function setup (t: TestContext, source: string | ((dir: string) => string)): Promise<{ dir: string, mod: string, id: string }> {
  const dir = await tempDir(t)
  const rec = deliveryRecord(1)
  await writeSegment(dir, 1, lines([rec]))
  const mod = join(dir, 'handler.mjs')
  await writeFile(mod, typeof source === 'string' ? source : source(dir))
  return { dir, mod, id: rec.id }
}

async function attempts (dir: string): Promise<Record<string, { attempts: number, last_error: string }>> {
  return JSON.parse(await readFile(join(dir, 'state', 'attempts.json'), 'utf8')) as Record<string, { attempts: number, last_error: string }>
}

/** One pass with the module as the only target: one try, a short timeout. */
async function passWith (dir: string, mod: string): Promise<number> {
  const options = processorOptions(dir, { routes: [parseRoute(`*=module:${mod}`)], tries: 1, handlerTimeoutMs: 300 })
  return await runProcessCommand(options, silentLogger(), noSignals)
}

for (const [what, body] of [
  ['a promise that never settles', 'return new Promise(() => {})'],
  ['an endless loop', 'for (;;) {}'],
  ['a thenable that never calls back', 'return { then () {} }'],
]) {
  test(`module handler: ${what} is stopped at the timeout, and counted as a failed attempt`, async (t) => {
    const { dir, mod, id } = await setup(t, `export default function () { ${body} }\n`)
    assert.equal(await passWith(dir, mod), EXIT_TEMPFAIL)
    const entry = (await attempts(dir))[id]!
    assert.equal(entry.attempts, 1)
    assert.match(entry.last_error, /timed out after 300 ms$/)
  })
}

test('module handler: a thenable is awaited like a promise, one whose `then` throws is a retry', async (t) => {
  const { dir, mod, id } = await setup(t, (d) => `
import { appendFileSync } from 'node:fs'
export default function (record) {
  if (process.env.THEN_THROWS) return { then () { throw new Error('then failed') } }
  return { then (resolve) { appendFileSync(${JSON.stringify(join(d, 'seen'))}, record.id + '\\n'); resolve() } }
}
`)
  t.after(() => { delete process.env.THEN_THROWS })
  process.env.THEN_THROWS = '1'
  assert.equal(await passWith(dir, mod), EXIT_TEMPFAIL)
  assert.match((await attempts(dir))[id]!.last_error, /then failed$/)
  delete process.env.THEN_THROWS
  assert.equal(await passWith(dir, mod), 0)
  assert.equal(await readFile(join(dir, 'seen'), 'utf8'), `${id}\n`)
})

test('module handler: process.exit in the handler is a retry that says so, not the end of the processor', async (t) => {
  const { dir, mod, id } = await setup(t, 'export default function () { process.exit(3) }\n')
  assert.equal(await passWith(dir, mod), EXIT_TEMPFAIL)
  assert.match((await attempts(dir))[id]!.last_error, /process\.exit\(3\)/)
})

test('module handler: after a call timed out, the next call runs in a fresh thread', async (t) => {
  const dir = await tempDir(t)
  const mod = join(dir, 'handler.mjs')
  await writeFile(mod, `
let calls = 0
export default async function (record) {
  calls++
  if (record.id === 'hang') return new Promise(() => {})
  if (record.id === 'slow') await new Promise((resolve) => setTimeout(resolve, 60_000))
  if (calls !== 1) throw new Error('not a fresh thread: call ' + calls)
}
`)
  const h = await ModuleHandler.load('module:', mod, 2000)
  t.after(() => h.close())
  const record = (id: string) => ({ ...deliveryRecord(1), id }) as unknown as Parameters<ModuleHandler['handle']>[0]
  const [hung, slow] = await Promise.all([h.handle(record('hang')), h.handle(record('slow'))])
  assert.deepEqual(hung, { outcome: 'retry', error: 'timed out after 2000 ms' })
  // A call in flight in the stopped thread is retried, whichever timer fired first.
  assert.equal(slow.outcome, 'retry')
  assert.deepEqual(await h.handle(record('fine')), { outcome: 'done' })
})

/** Runs the real CLI; kills it if it has not ended after `limitMs` (the defect was a pass that never ends). */
async function runProcessCli (t: TestContext, dir: string, mod: string, limitMs = 60_000): Promise<{ code: number | null, stdout: string }> {
  const cli = runCli(['process', '--data-dir', dir, '--on', `*=module:${mod}`, '--handler-timeout', '1s', '--tries', '1'])
  t.after(() => { cli.child.kill('SIGKILL') })
  const ended = await Promise.race([cli.exited, sleep(limitMs).then(() => undefined)])
  assert.ok(ended !== undefined, `the pass ended within ${limitMs} ms`)
  return { code: ended.code, stdout: cli.stdout() }
}

test('process CLI: a module handler that never settles ends the pass with 75 and a log line', async (t) => {
  const { dir, mod } = await setup(t, 'export default () => new Promise(() => {})\n')
  const { code, stdout } = await runProcessCli(t, dir, mod)
  assert.equal(code, EXIT_TEMPFAIL)
  assert.match(stdout, /"error":"timed out after 1000 ms"/)
})

test('process CLI: process.exit(0) in a module handler ends the pass with 75 and a log line, not 0', async (t) => {
  const { dir, mod } = await setup(t, 'export default () => process.exit(0)\n')
  const { code, stdout } = await runProcessCli(t, dir, mod)
  assert.equal(code, EXIT_TEMPFAIL)
  assert.match(stdout, /process\.exit\(0\)/)
})
