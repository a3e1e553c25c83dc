/** How long this disk takes to fdatasync a small append right now: the figure the bench depends on most. */
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export async function medianSyncMs (syncs = 200): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'callback-spool-bench-'))
  try {
    const fh = await open(join(dir, 'probe.ndjson'), 'a')
    const times: number[] = []
    try {
      const line = Buffer.from('x'.repeat(660) + '\n')
      for (let i = 0; i < syncs; i++) {
        await fh.write(line)
        const t = performance.now()
        await fh.datasync()
        times.push(performance.now() - t)
      }
    } finally {
      await fh.close()
    }
    times.sort((a, b) => a - b)
    return times[Math.floor(times.length / 2)]!
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
