/** Symbolic links in the data dir are never followed, and temp names cannot be planted. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, lstat, mkdir, readFile, readdir, stat, symlink, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FileHandler } from '../../src/processor/handlers/file.js'
import { DeadLetterWriter } from '../../src/processor/dead-letters.js'
import { emptyFigures, writeMetricsFile } from '../../src/processor/metrics.js'
import { normaliseCallback } from '../../src/processor/normalise.js'
import { ZonedTimeReader } from '../../src/processor/provider-time.js'
import { readLineBatches } from '../../src/spool/reader.js'
import { saveCheckpoint } from '../../src/spool/checkpoint.js'
import { runCli } from '../helpers/cli.js'
import { deliveryRecord, lines } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { tempDir } from '../helpers/tmp.js'
import { dataLayout } from '../../src/spool/layout.js'

const PRECIOUS = 'precious: not to be touched\n'

/** A file outside the data dir that a planted link points at; `unchanged()` checks it was neither written nor chmod'ed. */
async function target (dir: string, content = PRECIOUS): Promise<{ path: string, unchanged: () => Promise<void> }> {
  const path = join(dir, `target-${Math.random().toString(36).slice(2)}`)
  await writeFile(path, content)
  await chmod(path, 0o600)
  return {
    path,
    unchanged: async () => {
      assert.equal(await readFile(path, 'utf8'), content)
      assert.equal((await stat(path)).mode & 0o777, 0o600)
    },
  }
}

function assertLinkRefusal (result: { code: number | null, stderr: string }, link: string): void {
  assert.equal(result.code, 78, result.stderr)
  const errLines = result.stderr.trim().split('\n')
  assert.equal(errLines.length, 1, result.stderr)
  assert.match(errLines[0]!, new RegExp(`^callback-spool: ${link.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is a symbolic link \\(to .*\\); links in the data dir are never followed`))
}

async function runProcess (dataDir: string): Promise<{ code: number | null, stderr: string }> {
  const cli = runCli(['process', '--data-dir', dataDir])
  const { code } = await cli.exited
  return { code, stderr: cli.stderr() }
}

test('process refuses, in one line with exit 78, a link planted in the data dir, and writes nothing through it', async (t) => {
  const root = await tempDir(t)
  const cases: Array<{ name: string, plant: (dataDir: string, to: string) => Promise<string>, content?: string }> = [
    {
      name: 'a spool segment',
      // The link's target is a valid segment: following it would dispatch what someone else wrote.
      content: lines([deliveryRecord(9)]),
      plant: async (dataDir, to) => {
        await writeSegment(dataDir, 1, lines([deliveryRecord(1)]))
        const link = join(dataDir, 'spool', await writeSegment(dataDir, 2, ''))
        await unlink(link)
        await symlink(to, link)
        return link
      },
    },
    {
      name: 'an out/ file',
      plant: async (dataDir, to) => {
        await writeSegment(dataDir, 1, lines([deliveryRecord(1)]))
        await mkdir(join(dataDir, 'out'))
        await symlink(to, join(dataDir, 'out', 'delivery.ndjson'))
        return join(dataDir, 'out', 'delivery.ndjson')
      },
    },
    {
      name: 'a dead-letter file',
      plant: async (dataDir, to) => {
        await writeSegment(dataDir, 1, '{"not a record"}\n')
        await mkdir(join(dataDir, 'dead'))
        const link = join(dataDir, 'dead', `${new Date().toISOString().slice(0, 10)}.ndjson`)
        await symlink(to, link)
        return link
      },
    },
    {
      name: 'the checkpoint',
      plant: async (dataDir, to) => {
        await writeSegment(dataDir, 1, lines([deliveryRecord(1)]))
        await mkdir(join(dataDir, 'state'))
        await symlink(to, join(dataDir, 'state', 'checkpoint.json'))
        return join(dataDir, 'state', 'checkpoint.json')
      },
    },
    {
      name: 'the out/ directory',
      plant: async (dataDir, to) => {
        await writeSegment(dataDir, 1, lines([deliveryRecord(1)]))
        await symlink(to, join(dataDir, 'out'))
        return join(dataDir, 'out')
      },
    },
  ]
  for (const c of cases) {
    await t.test(c.name, async () => {
      const dataDir = join(root, c.name.replace(/\W+/g, '-'))
      await mkdir(dataDir)
      const outside = c.name.endsWith('directory') ? undefined : await target(root, c.content)
      const outsideDir = join(root, `elsewhere-${c.name.replace(/\W+/g, '-')}`)
      if (outside === undefined) await mkdir(outsideDir)
      const link = await c.plant(dataDir, outside?.path ?? outsideDir)
      assertLinkRefusal(await runProcess(dataDir), link)
      if (outside !== undefined) await outside.unchanged()
      else assert.deepEqual(await readdir(outsideDir), [])
      // Nothing was dispatched, from the linked segment or any other.
      const outputs = (await readdir(join(dataDir, 'out')).catch(() => [])).filter((n) => join(dataDir, 'out', n) !== link)
      assert.deepEqual(outputs, [])
    })
  }
})

test('receive refuses a spool/ that is a link, in one line with exit 78', async (t) => {
  const root = await tempDir(t)
  const dataDir = join(root, 'data')
  await mkdir(dataDir)
  await mkdir(join(root, 'elsewhere'))
  await symlink(join(root, 'elsewhere'), join(dataDir, 'spool'))
  const cli = runCli(['receive', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir])
  // One that follows the link starts listening: end it, and fail, rather than wait for ever.
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), 20_000)
  const { code } = await cli.exited
  clearTimeout(timer)
  assertLinkRefusal({ code, stderr: cli.stderr() }, join(dataDir, 'spool'))
  assert.deepEqual(await readdir(join(root, 'elsewhere')), [])
})

test('a link planted while the processor runs is refused where it is opened: out/ file, dead letters, spool segment', async (t) => {
  const dir = await tempDir(t)
  const outside = await target(dir)

  const out = join(dir, 'out', 'delivery.ndjson')
  await mkdir(join(dir, 'out'))
  await symlink(outside.path, out)
  const handler = new FileHandler(`file:${out}`, out)
  t.after(() => handler.close())
  handler.handle(normaliseCallback(deliveryRecord(1), new ZonedTimeReader('UTC')))
  await assert.rejects(handler.flush(), (err: Error) => {
    assert.equal((err.cause as { code?: string }).code, 'SPOOL_ERR_LINK')
    return true
  })

  const dead = new DeadLetterWriter(dataLayout(dir))
  const now = new Date()
  await mkdir(join(dir, 'dead'))
  await symlink(outside.path, join(dir, 'dead', `${now.toISOString().slice(0, 10)}.ndjson`))
  dead.add({ record: 'x', kind: null, target: null, error: 'e', attempts: 1, failed_at: now.toISOString() })
  await assert.rejects(dead.flush(now), { code: 'SPOOL_ERR_LINK' })

  const segment = await writeSegment(dir, 1, '')
  const segPath = join(dir, 'spool', segment)
  await unlink(segPath)
  await writeFile(outside.path + '.segment', lines([deliveryRecord(2)]))
  await symlink(outside.path + '.segment', segPath)
  await assert.rejects((async () => {
    for await (const batch of readLineBatches(dataLayout(dir), undefined)) assert.equal(batch.lines.length, 0)
  })(), { code: 'SPOOL_ERR_LINK' })
  // The checkpoint is replaced, never written through a link.
  await mkdir(join(dir, 'state'))
  await symlink(outside.path, join(dir, 'state', 'checkpoint.json'))
  await saveCheckpoint(dataLayout(dir), { segment, offset: 0 })
  assert.equal((await lstat(join(dir, 'state', 'checkpoint.json'))).isFile(), true)

  await outside.unchanged()
})

test('--metrics-file: a link planted at the temp name the processor used to write is not followed', async (t) => {
  const dir = await tempDir(t)
  const outside = await target(dir)
  const metrics = join(dir, 'textfile', 'callback_spool.prom')
  await mkdir(join(dir, 'textfile'))
  // The name an earlier version wrote through: `.<name>.<pid>.tmp`.
  const planted = join(dir, 'textfile', `.callback_spool.prom.${process.pid}.tmp`)
  await symlink(outside.path, planted)
  await writeMetricsFile(metrics, emptyFigures(new Date()))
  await outside.unchanged()
  assert.equal((await lstat(metrics)).isFile(), true)
  assert.match(await readFile(metrics, 'utf8'), /^# HELP callback_spool_process_last_pass_timestamp_seconds/m)
  // The planted link is left as it was; no temp file is left behind.
  assert.equal((await lstat(planted)).isSymbolicLink(), true)
  assert.deepEqual((await readdir(join(dir, 'textfile'))).sort(), [`.callback_spool.prom.${process.pid}.tmp`, 'callback_spool.prom'].sort())
})
