/**
 * The project's spool reader against the `ndjson` package over the same spool of 1M lines (the
 * processor bench's records): every line parsed as JSON, each side in a child process of its own
 * (bench/read-lines.ts), the rounds alternated; wall time, CPU time and peak RSS of each.
 *
 *   npm run bench -- --only processor      (after the processor's figures)
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateSpool, measure } from './processor.js'
import type { Measured } from './processor-report.js'

const READ_LINES = join(new URL('.', import.meta.url).pathname, 'read-lines.ts')
export const READER_LINES = 1_000_000
const ROUNDS = 3

export interface ReaderSide {
  label: string
  /** The medians of the rounds. */
  measured: Measured
  /** Objects the side read: every line, or the run is not valid. */
  objects: number
}

export interface ReaderComparison {
  lines: number
  spoolBytes: number
  reader: ReaderSide
  ndjson: ReaderSide
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

async function side (mode: 'reader' | 'ndjson', dir: string): Promise<Measured & { objects: number }> {
  const run = await measure(process.execPath, ['--import', 'tsx', READ_LINES, mode, dir], 'pipe')
  if (run.code !== 0) throw new Error(`read-lines.ts ${mode} exited ${run.code}`)
  return { seconds: run.seconds, cpuSeconds: run.cpuSeconds, peakRssMb: run.peakRssMb, objects: Number(run.output.split(' ')[0]) }
}

function medianSide (label: string, runs: Array<Measured & { objects: number }>): ReaderSide {
  const cpu = runs.map((r) => r.cpuSeconds)
  return {
    label,
    measured: {
      seconds: median(runs.map((r) => r.seconds)),
      cpuSeconds: cpu.some((c) => c === undefined) ? undefined : median(cpu as number[]),
      peakRssMb: median(runs.map((r) => r.peakRssMb)),
    },
    objects: Math.min(...runs.map((r) => r.objects)),
  }
}

export async function runReaderComparison (log: (line: string) => void, lines = READER_LINES): Promise<ReaderComparison> {
  const dir = await mkdtemp(join(tmpdir(), 'callback-spool-bench-'))
  try {
    const spoolBytes = await generateSpool(dir, lines)
    const reader: Array<Measured & { objects: number }> = []
    const ndjson: Array<Measured & { objects: number }> = []
    for (let round = 1; round <= ROUNDS; round++) {
      reader.push(await side('reader', dir))
      ndjson.push(await side('ndjson', dir))
      log(`  readers, round ${round}: reader ${reader.at(-1)!.seconds.toFixed(2)} s, ndjson ${ndjson.at(-1)!.seconds.toFixed(2)} s`)
    }
    return { lines, spoolBytes, reader: medianSide('this project\'s reader + JSON.parse', reader), ndjson: medianSide('ndjson.parse() on a read stream', ndjson) }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US')
const cpuUs = (m: Measured, lines: number): string => m.cpuSeconds === undefined ? '–' : (m.cpuSeconds * 1e6 / lines).toFixed(2)

export function readerTable (c: ReaderComparison): string {
  const rows = [
    `| ${int(c.lines)} lines, ${(c.spoolBytes / 1048576).toFixed(0)} MiB | lines/s (wall) | CPU µs/line | peak RSS MB | objects read |`,
    '|---|---:|---:|---:|---:|',
  ]
  for (const s of [c.reader, c.ndjson]) {
    rows.push(`| ${s.label} | ${int(c.lines / s.measured.seconds)} (${s.measured.seconds.toFixed(2)} s) | ${cpuUs(s.measured, c.lines)} | ${s.measured.peakRssMb.toFixed(0)} | ${int(s.objects)} |`)
  }
  return rows.join('\n')
}

/** Both sides read every line; the figures are reported, not judged (ndjson is a comparison, not a target). */
export function readerChecks (c: ReaderComparison): Array<{ label: string, measured: string, pass: boolean }> {
  return [c.reader, c.ndjson].map((s) => ({ label: `readers: ${s.label} reads every line`, measured: `${int(s.objects)} of ${int(c.lines)}`, pass: s.objects === c.lines }))
}
