/**
 * A full disk under the processor (the real CLI, its data dir on a small tmpfs): the pass exits 75
 * (retry later), `--follow` waits and goes on once there is room, and no output file keeps a torn
 * line for the next append to glue to the next record.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { killHard, runCli, type CliProcess } from '../helpers/cli.js'
import { lines, recordWithFields } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { fillUp, mountSmallTmpfs } from '../helpers/tmpfs.js'
import { waitFor } from '../helpers/wait.js'
import type { SpoolRecord } from '../../src/record.js'

/** Replies of about 600 bytes each: the output needs more room than is left. */
function records (count: number): SpoolRecord[] {
  return Array.from({ length: count }, (_, i) => recordWithFields({
    message_id: `m${i}`, number: `+336${String(10_000_000 + i).slice(1)}`, text: `${i} ${'x'.repeat(400)}`, reception_date: '2020-11-04 11:11:45',
  }))
}

/** Every output line, parsed; throws on a torn or glued line. */
async function outputIds (dataDir: string): Promise<string[]> {
  const ids: string[] = []
  const dir = join(dataDir, 'out')
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const text = await readFile(join(dir, name), 'utf8')
    assert.ok(text === '' || text.endsWith('\n'), `${name} ends in a torn line`)
    for (const line of text.split('\n').filter((l) => l !== '')) {
      let parsed: { id: string }
      try {
        parsed = JSON.parse(line) as { id: string }
      } catch {
        assert.fail(`${name} holds a line that is not JSON (torn, or glued to the next): ${line.slice(0, 80)}...`)
      }
      ids.push(parsed.id)
    }
  }
  return ids
}

test('a full disk under one pass: exit 75, no torn output line; once there is room every record is there', async (t) => {
  let cli: CliProcess | undefined
  const mnt = await mountSmallTmpfs(t, async () => { if (cli !== undefined) await killHard(cli) })
  if (mnt === undefined) return
  const dataDir = join(mnt, 'data')
  const recs = records(80)
  await writeSegment(dataDir, 1, lines(recs))
  const filler = await fillUp(mnt, 24 * 1024)

  cli = runCli(['process', '--data-dir', dataDir, '--batch-size', '20'])
  const { code } = await cli.exited
  assert.equal(code, 75, cli.stdout() + cli.stderr())
  const partial = await outputIds(dataDir)
  assert.ok(partial.length < recs.length, 'the disk was full before the output was complete')

  await rm(filler)
  cli = runCli(['process', '--data-dir', dataDir, '--batch-size', '20'])
  assert.equal((await cli.exited).code, 0, cli.stdout() + cli.stderr())
  const ids = new Set(await outputIds(dataDir))
  assert.deepEqual(recs.filter((r) => !ids.has(r.id)).map((r) => r.id), [], 'every record in the output')
})

test('a full disk under --follow: it waits, and goes on once there is room', async (t) => {
  const started: CliProcess[] = []
  const mnt = await mountSmallTmpfs(t, async () => { for (const cli of started) await killHard(cli) })
  if (mnt === undefined) return
  const dataDir = join(mnt, 'data')
  const recs = records(80)
  await writeSegment(dataDir, 1, lines(recs))
  const filler = await fillUp(mnt, 24 * 1024)

  const running = runCli(['process', '--data-dir', dataDir, '--follow', '--retry-pause', '100ms', '--batch-size', '20'])
  started.push(running)
  await waitFor('a failed pass', () => running.stdout().includes('retry later') || running.child.exitCode !== null, 30_000)
  // Two retries later, still running.
  await new Promise((resolve) => setTimeout(resolve, 500))
  assert.equal(running.child.exitCode, null, `--follow died: ${running.stdout().slice(-1500)}${running.stderr()}`)
  await outputIds(dataDir)

  await rm(filler)
  await waitFor('every record in the output', async () => {
    const ids = new Set(await outputIds(dataDir))
    return recs.every((r) => ids.has(r.id))
  }, 30_000, 100)
  running.child.kill('SIGTERM')
  assert.equal((await running.exited).code, 0, running.stderr())
})
