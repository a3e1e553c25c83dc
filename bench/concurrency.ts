/**
 * The processor with records in flight side by side: each target at `--concurrency 32` (the
 * default) beside `--concurrency 1` in the same run, through the real CLI:
 *   - http to a local server (in this process) that answers each POST after 5 ms (at 32 over
 *     HTTP_RECORDS records: the ~0.3 s a process takes to start, and the first thousand records
 *     run before the JIT has compiled the path, would otherwise weigh as much as the delivery);
 *   - exec `cat > /dev/null`, beside the same command run by plain /bin/sh loops without
 *     callback-spool (32 at once, and one per core): what the machine itself allows;
 *   - the default file target, over the processor bench's spools (rounds alternated, median).
 *
 *   npm run bench -- --only processor            (after the file-target figures of bench/processor.ts)
 *
 * Targets: http at least 3,000 records/s and exec at least 400 records/s at 32; the file target at
 * 32 within 10% of its figure at 1.
 */
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { once } from 'node:events'
import { createServer } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateSpool } from './processor.js'

const CLI = join(new URL('..', import.meta.url).pathname, 'bin', 'callback-spool.js')
export const CONCURRENCY = 32
/** Records for the slow targets: enough for a second or more at 32, without minutes at 1. */
export const DELIVERY_RECORDS = 2000
/** Records for http at 32: more than 3 s at its target of 3,000 records/s (2,000 would take 0.67 s, start-up included). */
export const HTTP_RECORDS = 10_000
const FILE_ROUNDS = 3

export const TARGET_HTTP = 3000
export const TARGET_EXEC = 400
export const FILE_TOLERANCE = 0.1

export interface ConcurrencyRun {
  target: string
  records: number
  /** Records of the passes at CONCURRENCY, when not `records`. */
  concurrentRecords?: number
  /** Records/s at --concurrency 1 and at CONCURRENCY. */
  sequential: number
  concurrent: number
  /** CPU µs per record at 1 and at CONCURRENCY (NaN without /usr/bin/time). */
  sequentialCpuUs: number
  concurrentCpuUs: number
  /** A pass that did not end with exit 0. */
  failed: boolean
  /** exec only: records/s of the same command run by plain /bin/sh loops (shellCeiling), CONCURRENCY of them and one per core. */
  ceiling?: { concurrent: number, perCore: number }
}

interface Pass {
  /** Records/s by the wall clock; NaN when the pass failed. */
  rate: number
  /** User + system CPU µs per record (from /usr/bin/time); NaN without it. */
  cpuUs: number
}

const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined

/** One pass of the real CLI over `dataDir` from its start. */
export async function pass (dataDir: string, records: number, args: string[]): Promise<Pass> {
  // From the start again: no checkpoint, no output of a previous pass.
  for (const sub of ['state', 'out', 'dead']) await rm(join(dataDir, sub), { recursive: true, force: true })
  const argv = [CLI, 'process', '--data-dir', dataDir, ...args]
  const started = process.hrtime.bigint()
  const child = TIME === undefined
    ? spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(TIME, ['-f', 'cpu %U %S', process.execPath, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const [code] = await once(child, 'close') as [number | null]
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (code !== 0) {
    process.stderr.write(stderr.slice(-2000))
    return { rate: Number.NaN, cpuUs: Number.NaN }
  }
  // CPU time says more than wall time on a machine shared with other work.
  const cpu = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(stderr)
  return { rate: records / seconds, cpuUs: cpu === null ? Number.NaN : (Number(cpu[1]) + Number(cpu[2])) * 1e6 / records }
}

/**
 * What the machine allows the exec target: `command` run by `shells` plain /bin/sh loops at once,
 * each record as a here-document, no callback-spool in the way; records/s, median of `rounds`. The
 * processor cannot run a command per record faster than the shell runs it alone.
 */
export async function shellCeiling (command: string, line: string, records: number, shells: number, rounds = 3): Promise<number> {
  const each = Math.ceil(records / shells)
  const script = `${command} <<'CALLBACK_SPOOL_END_OF_RECORD'\n${line}\nCALLBACK_SPOOL_END_OF_RECORD\n`.repeat(each)
  const rates: number[] = []
  for (let round = 0; round < rounds; round++) {
    const started = process.hrtime.bigint()
    await Promise.all(Array.from({ length: shells }, async () => {
      const shell = spawn('/bin/sh', [], { stdio: ['pipe', 'ignore', 'inherit'] })
      shell.stdin.end(script)
      const [code] = await once(shell, 'close') as [number | null]
      if (code !== 0) throw new Error(`/bin/sh running ${command} ended with ${code}`)
    }))
    rates.push(shells * each / (Number(process.hrtime.bigint() - started) / 1e9))
  }
  return median(rates)
}

/** The first record line of the spool in `dataDir`. */
function firstSpoolLine (dataDir: string): string {
  const spool = join(dataDir, 'spool')
  const segment = readdirSync(spool).sort()[0]!
  return readFileSync(join(spool, segment), 'utf8').split('\n', 1)[0]!
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

/** `wide`: another spool, of `wide.records`, for the passes at CONCURRENCY. */
async function side (target: string, dataDir: string, records: number, args: string[], rounds: number, wide?: { dataDir: string, records: number }): Promise<ConcurrencyRun> {
  const sequential: Pass[] = []
  const concurrent: Pass[] = []
  for (let round = 0; round < rounds; round++) {
    concurrent.push(await pass(wide?.dataDir ?? dataDir, wide?.records ?? records, [...args, '--concurrency', String(CONCURRENCY)]))
    sequential.push(await pass(dataDir, records, [...args, '--concurrency', '1']))
  }
  const failed = [...sequential, ...concurrent].some((p) => Number.isNaN(p.rate))
  return {
    target,
    records,
    ...(wide === undefined ? {} : { concurrentRecords: wide.records }),
    sequential: median(sequential.map((p) => p.rate)),
    concurrent: median(concurrent.map((p) => p.rate)),
    sequentialCpuUs: median(sequential.map((p) => p.cpuUs)),
    concurrentCpuUs: median(concurrent.map((p) => p.cpuUs)),
    failed,
  }
}

/** Runs every target at 1 and at CONCURRENCY; `fileCounts` are the spool sizes for the file target. */
export async function runConcurrencyBench (fileCounts: number[], log: (line: string) => void): Promise<ConcurrencyRun[]> {
  const runs: ConcurrencyRun[] = []
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => setTimeout(() => res.end(), 5))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  const report = (run: ConcurrencyRun): void => {
    runs.push(run)
    log(`  ${run.target}, ${recordsText(run)} records: --concurrency 1 ${Math.round(run.sequential).toLocaleString('en')} records/s, ` +
      `${CONCURRENCY} ${Math.round(run.concurrent).toLocaleString('en')} records/s; CPU µs/record ${us(run.sequentialCpuUs)} and ${us(run.concurrentCpuUs)}` +
      `${run.failed ? ' (a pass failed)' : ''}`)
  }
  try {
    const dataDir = await mkdtemp(join(tmpdir(), 'callback-spool-bench-'))
    const httpDir = await mkdtemp(join(tmpdir(), 'callback-spool-bench-'))
    try {
      // Callbacks about many numbers, as a real backlog: records of one number are handled in turn.
      await generateSpool(dataDir, DELIVERY_RECORDS, 1000)
      await generateSpool(httpDir, HTTP_RECORDS, 1000)
      report(await side('http (server answers in 5 ms)', dataDir, DELIVERY_RECORDS, ['--on', `*=${url}`], 1, { dataDir: httpDir, records: HTTP_RECORDS }))
      const exec = await side('exec:cat > /dev/null', dataDir, DELIVERY_RECORDS, ['--on', '*=exec:cat > /dev/null'], 1)
      const line = firstSpoolLine(dataDir)
      exec.ceiling = {
        concurrent: await shellCeiling('cat > /dev/null', line, DELIVERY_RECORDS, CONCURRENCY),
        perCore: await shellCeiling('cat > /dev/null', line, DELIVERY_RECORDS, availableParallelism()),
      }
      report(exec)
      log(`  ${ceilingText(exec.ceiling)}`)
    } finally {
      await rm(dataDir, { recursive: true, force: true })
      await rm(httpDir, { recursive: true, force: true })
    }
  } finally {
    server.close()
  }
  for (const count of fileCounts) {
    const dataDir = await mkdtemp(join(tmpdir(), 'callback-spool-bench-'))
    try {
      await generateSpool(dataDir, count)
      report(await side(`file (default), median of ${FILE_ROUNDS}`, dataDir, count, [], FILE_ROUNDS))
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  }
  return runs
}

const int = (n: number): string => Number.isNaN(n) ? 'failed' : Math.round(n).toLocaleString('en-US')
const us = (n: number): string => Number.isNaN(n) ? '–' : n.toFixed(1)
/** `2,000`, or `2,000 / 10,000` when the passes at CONCURRENCY had more. */
const recordsText = (r: ConcurrencyRun): string => r.concurrentRecords === undefined ? int(r.records) : `${int(r.records)} / ${int(r.concurrentRecords)}`

const ceilingText = (c: { concurrent: number, perCore: number }): string =>
  `the machine without callback-spool, the same command from plain /bin/sh loops: ${int(c.concurrent)} records/s ${CONCURRENCY} at once, ${int(c.perCore)} ${availableParallelism()} at once`

export function concurrencyTable (runs: ConcurrencyRun[]): string {
  const rows = [
    `| target | records | --concurrency 1 records/s | --concurrency ${CONCURRENCY} records/s | ratio | CPU µs/record at 1 | at ${CONCURRENCY} |`,
    '|---|---:|---:|---:|---:|---:|---:|',
  ]
  for (const r of runs) {
    rows.push(`| ${r.target} | ${recordsText(r)} | ${int(r.sequential)} | ${int(r.concurrent)} | ${(r.concurrent / r.sequential).toFixed(2)} | ` +
      `${us(r.sequentialCpuUs)} | ${us(r.concurrentCpuUs)} |`)
  }
  return rows.join('\n')
}

export function concurrencyTargets (runs: ConcurrencyRun[]): Array<{ label: string, measured: string, pass: boolean }> {
  return runs.map((r) => {
    const measured = `${int(r.concurrent)} records/s (${int(r.sequential)} at 1)`
    if (r.target.startsWith('http')) return { label: `http at --concurrency ${CONCURRENCY}: >= ${int(TARGET_HTTP)} records/s`, measured, pass: !r.failed && r.concurrent >= TARGET_HTTP }
    if (r.target.startsWith('exec')) {
      const ceiling = r.ceiling === undefined ? '' : `; ${ceilingText(r.ceiling)}`
      return { label: `exec at --concurrency ${CONCURRENCY}: >= ${int(TARGET_EXEC)} records/s`, measured: `${measured}${ceiling}`, pass: !r.failed && r.concurrent >= TARGET_EXEC }
    }
    return { label: `file ${int(r.records)} at --concurrency ${CONCURRENCY}: within ${FILE_TOLERANCE * 100}% of --concurrency 1`, measured, pass: !r.failed && r.concurrent >= r.sequential * (1 - FILE_TOLERANCE) }
  })
}
