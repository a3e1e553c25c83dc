/**
 * `npm run bench -- --only dedupe`: the de-duplication window (`--dedupe-window`).
 *
 * 1. In process: 1 M distinct keys remembered (and looked up first, as the processor does), taken
 *    for the keys file every 10,000 keys (a commit), then the file loaded again: CPU µs per key,
 *    the bytes the window holds, the process's RSS and array-buffer growth, the file's size and the
 *    time to load it (memory after a full GC: what the window keeps, not the garbage of the keys
 *    made for the bench; RSS is shown too, but V8 keeps freed pages). Target: at most 64 MB for 1 M keys in the window.
 * 2. The processor (spawned through the real CLI) over the same spool of Octopush records with
 *    `--dedupe-window 0` and `24h`: CPU µs per record and peak RSS, so the window's cost per
 *    record and its memory in a real pass are seen beside each other.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DedupeWindow } from '../src/processor/dedupe.js'
import { dataLayout } from '../src/spool/layout.js'
import { generateSpool, measure } from './processor.js'

const ROOT = new URL('..', import.meta.url).pathname
const CLI = join(ROOT, 'bin', 'callback-spool.js')
const MB = 1024 * 1024

/** A full garbage collection, so that memory figures count what is kept, not what is yet to be collected. */
function collect (): void {
  setFlagsFromString('--expose-gc')
  ;(runInNewContext('gc') as () => void)()
}

export interface DedupeBench {
  table: string
  targets: string
  pass: boolean
}

async function inProcess (keys: number, log: (line: string) => void): Promise<{ row: string, bytes: number, growthMb: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'callback-spool-bench-dedupe-'))
  const layout = dataLayout(dir)
  try {
    collect()
    const before = process.memoryUsage()
    const window = new DedupeWindow(24 * 3_600_000)
    const start = Date.UTC(2026, 5, 1)
    let writeMs = 0
    const cpu = process.cpuUsage()
    for (let i = 0; i < keys; i++) {
      const key = `twilio:SM${(i * 2654435761 >>> 0).toString(16).padStart(8, '0')}${i.toString(16).padStart(24, '0')}|delivered`
      // One key every 50 ms: 1 M keys span about 14 h, all within the 24 h window.
      const at = start + i * 50
      const id = `019b0000-0000-7000-8000-${i.toString(16).padStart(12, '0')}`
      if (!window.seen(key, at, id)) window.remember(key, at, id)
      if ((i + 1) % 10_000 === 0) {
        const w = window.take()
        if (w !== undefined) {
          const t0 = process.hrtime.bigint()
          await DedupeWindow.write(layout, w)
          writeMs += Number(process.hrtime.bigint() - t0) / 1e6
        }
      }
    }
    const used = process.cpuUsage(cpu)
    collect()
    const after = process.memoryUsage()
    const cpuUsPerKey = (used.user + used.system) / keys
    const fileBytes = (await stat(layout.dedupeKeys)).size
    const t0 = process.hrtime.bigint()
    const loaded = await DedupeWindow.load(layout, 24 * 3_600_000)
    const loadMs = Number(process.hrtime.bigint() - t0) / 1e6
    if (loaded.size !== window.size) throw new Error(`loaded ${loaded.size} keys, expected ${window.size}`)
    // What the window keeps, after a collection: its typed arrays (array buffers) and its objects (heap).
    const growthMb = (after.arrayBuffers - before.arrayBuffers + after.heapUsed - before.heapUsed) / MB
    const rssMb = (after.rss - before.rss) / MB
    log(`  dedupe window, ${keys.toLocaleString('en')} keys: ${cpuUsPerKey.toFixed(2)} µs CPU per key (seen + remember, commits included), ` +
      `${(window.bytes / MB).toFixed(1)} MB held, heap + array buffers +${growthMb.toFixed(1)} MB after a GC, RSS +${rssMb.toFixed(1)} MB`)
    const row = `| in process | ${keys.toLocaleString('en')} keys | ${cpuUsPerKey.toFixed(2)} | ${(window.bytes / MB).toFixed(1)} | heap + buffers +${growthMb.toFixed(1)}, RSS +${rssMb.toFixed(1)} | ` +
      `${(fileBytes / MB).toFixed(1)} MB, appends ${writeMs.toFixed(0)} ms in all, load ${loadMs.toFixed(0)} ms |`
    return { row, bytes: window.bytes, growthMb }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function processorPass (records: number, window: string, log: (line: string) => void): Promise<{ row: string, cpuUs: number | undefined }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'callback-spool-bench-dedupe-'))
  try {
    await generateSpool(dataDir, records)
    const { code, seconds, cpuSeconds, peakRssMb } = await measure(process.execPath, [CLI, 'process', '--data-dir', dataDir, '--dedupe-window', window])
    if (code !== 0) throw new Error(`the processor exited ${code}`)
    const cpuUs = cpuSeconds === undefined ? undefined : cpuSeconds * 1e6 / records
    const keysFile = window === '0' ? '-' : `${((await stat(dataLayout(dataDir).dedupeKeys)).size / MB).toFixed(1)} MB`
    log(`  processor, ${records.toLocaleString('en')} records, --dedupe-window ${window}: ${(records / seconds).toFixed(0)} records/s, ` +
      `${cpuUs?.toFixed(1) ?? '?'} µs CPU/record, peak RSS ${peakRssMb.toFixed(0)} MB`)
    return { row: `| processor --dedupe-window ${window} | ${records.toLocaleString('en')} records | ${cpuUs?.toFixed(1) ?? '?'} | - | peak ${peakRssMb.toFixed(0)} | ${keysFile} |`, cpuUs }
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
}

export async function runDedupeBench (keys: number, records: number[], log: (line: string) => void): Promise<DedupeBench> {
  const memory = await inProcess(keys, log)
  const rows = [memory.row]
  for (const count of records) {
    for (const window of ['0', '24h']) rows.push((await processorPass(count, window, log)).row)
  }
  const table = [
    '| what | size | CPU µs per key / record | window bytes MB | RSS MB | keys file |',
    '|---|---:|---:|---:|---:|---|',
    ...rows,
  ].join('\n')
  const limit = 64 * MB
  const pass = memory.bytes <= limit && memory.growthMb <= 64
  const targets = `${pass ? 'PASS' : 'FAIL'}  dedupe window, ${keys.toLocaleString('en')} keys: at most 64 MB: ${(memory.bytes / MB).toFixed(1)} MB held, heap + array buffers +${memory.growthMb.toFixed(1)} MB after a GC`
  return { table, targets, pass }
}
