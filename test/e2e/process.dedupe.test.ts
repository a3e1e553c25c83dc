/**
 * `--dedupe-window`: a provider's re-send (another spool record with the same natural key) within
 * the window is counted as a duplicate and not handed over again, to file, http, exec and module
 * targets; outside the window, or with the window off, it is; the keys survive a SIGKILL of the
 * real CLI and a restart; a torn block at the end of the keys file is dropped.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { appendFile, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runProcessCommand } from '../../src/processor/run.js'
import { parseRoute } from '../../src/processor/dispatch.js'
import { DedupeWindow } from '../../src/processor/dedupe.js'
import { loadCheckpoint } from '../../src/spool/checkpoint.js'
import type { SpoolRecord } from '../../src/record.js'
import { runReplay } from '../../src/tools/replay.js'
import { killHard, runCli } from '../helpers/cli.js'
import { captureIO } from '../helpers/tool-io.js'
import { lines, recordWithFields } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { tempDir } from '../helpers/tmp.js'
import { silentLogger } from '../helpers/logger.js'
import { processorOptions } from '../helpers/processor.js'
import { waitFor } from '../helpers/wait.js'
import { dataLayout } from '../../src/spool/layout.js'

const HOUR = 3_600_000
const base = Date.UTC(2026, 5, 1, 12, 0, 0)

/** A Vonage delivery receipt (key: messageId + status), received `ms` after `base`. */
function vonageDlr (messageId: string, status: string, ms: number): SpoolRecord {
  return recordWithFields({ msisdn: '447547232824', to: 'Nexmo CLI', messageId, status, 'err-code': '0', 'message-timestamp': '2018-10-25 12:10:29' }, new Date(base + ms))
}

async function pass (dir: string, target: string, overrides: Parameters<typeof processorOptions>[1] = {}): Promise<{ code: number, figures: Record<string, unknown> }> {
  const code = await runProcessCommand(processorOptions(dir, { routes: [parseRoute(`*=${target}`)], ...overrides }), silentLogger(), () => {})
  const lastPass = JSON.parse(await readFile(join(dir, 'state', 'last-pass.json'), 'utf8')) as { figures: Record<string, unknown> }
  return { code, figures: lastPass.figures }
}

async function idsIn (path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8').catch(() => '')
  return text.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { id: string }).id)
}

/** One target kind: where it writes what it is handed, as the ids it saw. */
interface Target { url: string, seen: () => Promise<string[]> }

const TARGETS: Record<string, (dir: string, t: { after: (fn: () => unknown) => void }) => Promise<Target>> = {
  file: async (dir) => {
    const out = join(dir, 'handed.ndjson')
    return { url: `file:${out}`, seen: () => idsIn(out) }
  },
  http: async (_dir, t) => {
    const ids: string[] = []
    const server = createServer((req, res) => {
      let body = ''
      req.setEncoding('utf8').on('data', (c: string) => { body += c }).on('end', () => {
        ids.push((JSON.parse(body) as { id: string }).id)
        res.end()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => new Promise((resolve) => server.close(resolve)))
    const port = (server.address() as { port: number }).port
    return { url: `http://127.0.0.1:${port}/hook`, seen: async () => [...ids] }
  },
  exec: async (dir) => {
    const out = join(dir, 'exec.ndjson')
    return { url: `exec:cat >> ${out}; echo >> ${out}`, seen: () => idsIn(out) }
  },
  module: async (dir) => {
    const out = join(dir, 'module.ndjson')
    const mod = join(dir, 'handler.mjs')
    await writeFile(mod, `import { appendFileSync } from 'node:fs'\nexport default function (record) { appendFileSync(${JSON.stringify(out)}, JSON.stringify(record) + '\\n') }\n`)
    return { url: `module:${mod}`, seen: () => idsIn(out) }
  },
}

for (const [name, make] of Object.entries(TARGETS)) {
  test(`${name} target: a re-send within the window is not handed over twice, and is counted as a duplicate`, async (t) => {
    const dir = await tempDir(t)
    const target = await make(dir, t)
    const first = vonageDlr('0B00000127FDBC63', 'delivered', 0)
    const other = vonageDlr('0B00000127FDBC63', 'accepted', 1000)
    // In the same pass, a minute later; then in a later pass, 23 hours later.
    await writeSegment(dir, 1, lines([first, other, vonageDlr('0B00000127FDBC63', 'delivered', 60_000)]))
    const one = await pass(dir, target.url)
    assert.equal(one.code, 0)
    assert.deepEqual(await target.seen(), [first.id, other.id])
    assert.equal(one.figures.duplicates, 1)
    assert.deepEqual((one.figures.by_provider as Record<string, unknown>).vonage, { done: 2, dead: 0, skipped: 0, duplicate: 1 })

    await writeSegment(dir, 2, lines([vonageDlr('0B00000127FDBC63', 'delivered', 23 * HOUR)]))
    const two = await pass(dir, target.url)
    assert.equal(two.code, 0)
    assert.deepEqual(await target.seen(), [first.id, other.id])
    assert.equal(two.figures.duplicates, 1)
  })
}

test('past the window, or with the window off, a re-send is handed over', async (t) => {
  const dir = await tempDir(t)
  const out = join(dir, 'handed.ndjson')
  const first = vonageDlr('m1', 'delivered', 0)
  const late = vonageDlr('m1', 'delivered', 25 * HOUR)
  await writeSegment(dir, 1, lines([first, late]))
  assert.equal((await pass(dir, `file:${out}`)).code, 0)
  assert.deepEqual(await idsIn(out), [first.id, late.id])

  const off = await tempDir(t)
  const offOut = join(off, 'handed.ndjson')
  const again = vonageDlr('m1', 'delivered', 1000)
  await writeSegment(off, 1, lines([first, again]))
  const result = await pass(off, `file:${offOut}`, { dedupeWindowMs: 0 })
  assert.deepEqual(await idsIn(offOut), [first.id, again.id])
  assert.equal(result.figures.duplicates, 0)
  await assert.rejects(stat(dataLayout(off).dedupeKeys), { code: 'ENOENT' })
})

test('the same records again (replay --all, a redelivery): handed over again, the window is for re-sends only', async (t) => {
  const dir = await tempDir(t)
  const out = join(dir, 'handed.ndjson')
  const first = vonageDlr('m1', 'delivered', 0)
  const resent = vonageDlr('m1', 'delivered', 1000)
  await writeSegment(dir, 1, lines([first, resent]))
  assert.equal((await pass(dir, `file:${out}`)).code, 0)
  assert.deepEqual(await idsIn(out), [first.id])
  const replay = await runReplay({ dataDir: dir, target: { all: true }, yes: true }, captureIO())
  assert.equal(replay.requeued, 2)
  const again = await pass(dir, `file:${out}`)
  assert.deepEqual(await idsIn(out), [first.id, first.id])
  assert.equal(again.figures.duplicates, 1)
})

test('a batched request re-sent: its events are not handed over again, whatever their ids', async (t) => {
  const dir = await tempDir(t)
  const out = join(dir, 'handed.ndjson')
  const results = Array.from({ length: 3 }, (_, i) => ({ messageId: `ib-${i}`, to: '41793026731', status: { groupName: 'DELIVERED', name: 'DELIVERED_TO_HANDSET' }, doneAt: '2019-04-09T16:01:56.494-0300' }))
  const first = recordWithFields({ results }, new Date(base))
  const resent = recordWithFields({ results }, new Date(base + 5000))
  await writeSegment(dir, 1, lines([first, resent]))
  const { figures } = await pass(dir, `file:${out}`)
  assert.equal((await idsIn(out)).length, 3)
  assert.equal(figures.duplicates, 3)
})

test('the window survives a SIGKILL of the processor: after a restart, a re-send is still not handed over', async (t) => {
  const dir = await tempDir(t)
  const out = join(dir, 'handed.ndjson')
  const first = vonageDlr('0B00000127FDBC63', 'delivered', 0)
  await writeSegment(dir, 1, lines([first]))
  const cli = runCli(['process', '--follow', '--data-dir', dir, '--on', `*=file:${out}`, '--poll-interval', '50ms'])
  t.after(() => killHard(cli))
  await waitFor('the record handed over and the checkpoint past it', async () =>
    (await idsIn(out)).length === 1 && (await loadCheckpoint(dataLayout(dir)))?.offset === Buffer.byteLength(lines([first])), 30_000)
  cli.child.kill('SIGKILL')
  await cli.exited
  assert.ok((await stat(dataLayout(dir).dedupeKeys)).size > 0, 'the keys file is written with the checkpoint')

  await writeSegment(dir, 2, lines([vonageDlr('0B00000127FDBC63', 'delivered', 2 * HOUR)]))
  const restarted = runCli(['process', '--data-dir', dir, '--on', `*=file:${out}`])
  assert.deepEqual(await restarted.exited, { code: 0, signal: null }, restarted.stderr())
  assert.deepEqual(await idsIn(out), [first.id])
  const lastPass = JSON.parse(await readFile(join(dir, 'state', 'last-pass.json'), 'utf8')) as { figures: { duplicates: number } }
  assert.equal(lastPass.figures.duplicates, 1)
})

test('keys file: a torn block at its end is dropped, the blocks before it kept, and the file rewritten at the next commit', async (t) => {
  const dir = await tempDir(t)
  const window = new DedupeWindow(24 * HOUR)
  window.remember('vonage:a|delivered', base, 'r-vonage:a|delivered')
  await DedupeWindow.write(dataLayout(dir), window.take()!)
  window.remember('vonage:b|delivered', base + 1000, 'r-vonage:b|delivered')
  await DedupeWindow.write(dataLayout(dir), window.take()!)
  // A crash while a third block was appended: half of it on disk.
  const size = (await stat(dataLayout(dir).dedupeKeys)).size
  await appendFile(dataLayout(dir).dedupeKeys, Buffer.alloc(20, 7))
  const loaded = await DedupeWindow.load(dataLayout(dir), 24 * HOUR)
  assert.equal(loaded.seen('vonage:a|delivered', base + 5000, 'another'), true)
  assert.equal(loaded.seen('vonage:b|delivered', base + 5000, 'another'), true)
  assert.equal(loaded.seen('vonage:c|delivered', base + 5000, 'another'), false)
  const write = loaded.take()
  assert.equal(write?.replace, true)
  await DedupeWindow.write(dataLayout(dir), write!)
  assert.equal((await stat(dataLayout(dir).dedupeKeys)).size, size - 12, 'one block of two keys instead of two blocks of one')
  // The record a key was remembered from is not its own duplicate (a replay, a re-queue, a redelivery).
  assert.equal(loaded.seen('vonage:a|delivered', base + 5000, 'r-vonage:a|delivered'), false)
})

test('the window drops keys older than itself behind the newest, and keeps its table consistent while doing so', () => {
  const window = new DedupeWindow(10_000)
  for (let i = 0; i < 5000; i++) window.remember(`k${i}`, base + i * 100, `r${i}`)
  // The newest is at 499.9 s: keys remembered before 489.9 s are gone.
  assert.ok(window.size <= 110 && window.size >= 99, `size ${window.size}`)
  for (let i = 4900; i < 5000; i++) assert.equal(window.seen(`k${i}`, base + 500_000, 'another'), true, `k${i}`)
  for (let i = 0; i < 4800; i += 37) assert.equal(window.seen(`k${i}`, base + 500_000, 'another'), false, `k${i}`)
})
