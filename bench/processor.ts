/**
 * Processor benchmark: spools of 100k and 1M records (the four kinds, as the receiver writes
 * them, in 64 MiB segments) processed by the real CLI in one pass into the default file handler;
 * records/s and peak RSS, beside `jq -c . spool/*.ndjson > /dev/null` over the same files.
 *
 *   npm run build && node --import tsx bench/processor.ts [records...]
 *   npm run bench -- --only processor          (the same, from bench/run.ts)
 *
 * Targets: at least 200,000 records/s, at least as fast as jq, peak RSS under 150 MB.
 * Then bench/readers.ts: the project's reader against the `ndjson` package; bench/concurrency.ts:
 * http, exec and the file target at --concurrency 32 beside 1; bench/sql.ts: PostgreSQL and
 * MariaDB/MySQL with 100k records, at 32 beside 1; and bench/nats.ts: the NATS target to a
 * JetStream R1 stream with 100k records, beside the file target on that spool.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { encodeRecord, newRecordId, type SpoolRecord } from '../src/record.js'
import { segmentName } from '../src/spool/layout.js'
import { concurrencyTable, concurrencyTargets, runConcurrencyBench } from './concurrency.js'
import { runSqlBench, sqlTargets } from './sql.js'
import { natsTargets, runNatsBench } from './nats.js'
import { readerChecks, readerTable, runReaderComparison } from './readers.js'
import { evaluateProcessorTargets, processorTable, processorTargetsText, type Measured, type ProcessorRun } from './processor-report.js'

/** Extra node flags for the processor run, e.g. BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'. */
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')
const ROOT = new URL('..', import.meta.url).pathname
const CLI = join(ROOT, 'bin', 'callback-spool.js')
const SEGMENT_BYTES = 64 * 1024 * 1024

function sampleFields (i: number, numbers: number): Record<string, unknown> {
  // One number for all but the opt-outs, as in the first figures; or `numbers` of them in turn.
  const number = (fallback: string): string => numbers === 0 ? fallback : `+336${String(10_000_000 + i % numbers).slice(1)}`
  switch (i % 4) {
    case 0: return { channel: 'sms', message_id: `sms_${i.toString(16)}`, number: number('+33600112233'), status: 'DELIVERED', delivery_date: '2020-11-04 11:11:45', meta_data: {} }
    case 1: return { message_id: `sms_${i.toString(16)}`, number: number('0033600000000'), text: 'Oui merci, à demain', answer_date: '2020-11-04 11:11:45' }
    case 2: return { message_id: `sms_${i.toString(16)}`, number: number('+33600000000'), text: 'STOP', stop_date: '2026-03-29 02:30:00' }
    default: return { event: 'test', sent_at: '2020-11-04 11:11:45' }
  }
}

/**
 * Writes `count` records into `<dataDir>/spool/` in 64 MiB segments; returns the bytes written.
 * `numbers`: how many phone numbers the records are spread over (0: three, as the file figures had).
 */
export async function generateSpool (dataDir: string, count: number, numbers = 0): Promise<number> {
  const spool = join(dataDir, 'spool')
  await mkdir(spool, { recursive: true })
  let seq = 0
  let bytes = 0
  let fh = await open(join(spool, segmentName(++seq, new Date())), 'w', 0o640)
  let size = 0
  let chunk: string[] = []
  const start = Date.now() - count
  for (let i = 0; i < count; i++) {
    const fields = sampleFields(i, numbers)
    const body = JSON.stringify(fields)
    const record: SpoolRecord = {
      v: 1,
      id: newRecordId(start + i),
      received_at: new Date(start + i).toISOString(),
      method: 'POST',
      path: '/callbacks',
      query: {},
      remote_addr: '203.0.113.7',
      headers: { 'content-type': 'application/json', 'user-agent': 'Octopush-Callback/1.0' },
      body,
      fields,
    }
    const line = encodeRecord(record)
    chunk.push(line)
    size += Buffer.byteLength(line)
    if (chunk.length === 10_000 || i === count - 1) {
      const data = chunk.join('')
      await fh.write(data)
      bytes += Buffer.byteLength(data)
      chunk = []
      if (size >= SEGMENT_BYTES && i < count - 1) {
        await fh.close()
        fh = await open(join(spool, segmentName(++seq, new Date(Date.now() + seq))), 'w', 0o640)
        size = 0
      }
    }
  }
  await fh.close()
  return bytes
}

/** Runs a command under /usr/bin/time -v when present (peak RSS and CPU time from it), else polls VmHWM. */
export async function measure (command: string, args: string[], stdout: 'ignore' | 'pipe' = 'ignore'): Promise<Measured & { code: number | null, output: string }> {
  const useTime = existsSync('/usr/bin/time')
  const file = useTime ? '/usr/bin/time' : command
  const argv = useTime ? ['-v', command, ...args] : args
  const started = process.hrtime.bigint()
  const child = spawn(file, argv, { stdio: ['ignore', stdout, 'pipe'] })
  let stderr = ''
  let output = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { output += d })
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (d: string) => { stderr += d })
  let polledKb = 0
  const poll = useTime
    ? undefined
    : setInterval(() => {
      readFile(`/proc/${child.pid}/status`, 'utf8').then((s) => {
        const m = /VmHWM:\s+(\d+)/.exec(s)
        if (m !== null) polledKb = Math.max(polledKb, Number(m[1]))
      }, () => {})
    }, 20)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  if (poll !== undefined) clearInterval(poll)
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)
  const kb = m === null ? polledKb : Number(m[1])
  // CPU time (user + system) says more than wall time on a machine shared with other work.
  const user = /User time \(seconds\): ([\d.]+)/.exec(stderr)
  const sys = /System time \(seconds\): ([\d.]+)/.exec(stderr)
  const cpuSeconds = user === null || sys === null ? undefined : Number(user[1]) + Number(sys[1])
  if (code !== 0) process.stderr.write(stderr.slice(-2000))
  return { seconds, cpuSeconds, peakRssMb: kb / 1024, code, output }
}

/** The figures of a measured run, without its exit code and output. */
export function figures ({ seconds, cpuSeconds, peakRssMb }: Measured): Measured {
  return { seconds, cpuSeconds, peakRssMb }
}

export async function hasJq (): Promise<boolean> {
  return await new Promise((resolve) => {
    const c = spawn('jq', ['--version'], { stdio: 'ignore' })
    c.on('error', () => resolve(false))
    c.on('close', (code) => resolve(code === 0))
  })
}

/** One spool of `count` records: the processor's pass, then jq over the same files. */
export async function benchProcessor (count: number, jq: boolean): Promise<ProcessorRun> {
  const dataDir = await mkdtemp(join(tmpdir(), 'callback-spool-bench-'))
  try {
    const spoolBytes = await generateSpool(dataDir, count)
    const segments = (await readdir(join(dataDir, 'spool'))).map((n) => join(dataDir, 'spool', n)).sort()
    const run = await measure(process.execPath, [...nodeArgs, CLI, 'process', '--data-dir', dataDir])
    const processor = figures(run)
    let jqRun: Measured | undefined
    if (jq) {
      const jqMeasured = await measure('/bin/sh', ['-c', `jq -c . ${segments.map((s) => `'${s}'`).join(' ')} > /dev/null`])
      if (jqMeasured.code === 0) jqRun = figures(jqMeasured)
    }
    return { records: count, spoolBytes, segments: segments.length, exitCode: run.code, processor, jq: jqRun }
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
}

/** Runs the processor bench for each count; prints the table and the targets; true when none failed. */
export async function runProcessorBench (counts: number[], log: (line: string) => void): Promise<{ table: string, targets: string, pass: boolean }> {
  const jq = await hasJq()
  if (!jq) log('jq is not installed: no comparison (apt-get install -y jq)')
  const runs: ProcessorRun[] = []
  for (const count of counts) {
    const run = await benchProcessor(count, jq)
    const p = run.processor
    log(`  processor ${count.toLocaleString('en')} records: ${Math.round(count / p.seconds).toLocaleString('en')} records/s, ` +
      `${p.cpuSeconds === undefined ? '?' : (p.cpuSeconds * 1e6 / count).toFixed(2)} µs CPU/record, peak RSS ${p.peakRssMb.toFixed(0)} MB` +
      (run.jq === undefined ? '' : `; jq ${Math.round(count / run.jq.seconds).toLocaleString('en')} records/s`))
    runs.push(run)
  }
  const targets = evaluateProcessorTargets(runs)
  // The project's reader against the ndjson package, over 1M lines whatever the spools' sizes.
  const readers = await runReaderComparison(log)
  targets.push(...readerChecks(readers))
  // Records in flight side by side: each target at --concurrency 32 beside 1.
  const side = await runConcurrencyBench(counts, log)
  targets.push(...concurrencyTargets(side))
  // The SQL targets: 100k records into PostgreSQL and MariaDB/MySQL, at 32 beside 1.
  const sql = await runSqlBench(log)
  targets.push(...sqlTargets(sql))
  const sqlRuns = sql.flatMap((s) => s.run === undefined ? [] : [s.run])
  // The NATS target (the forwarder) to JetStream R1, beside the file target over the same spool.
  const nats = await runNatsBench(log)
  targets.push(...natsTargets(nats))
  const natsRuns = [nats.nats, nats.file].flatMap((r) => r === undefined ? [] : [r])
  return { table: `${processorTable(runs)}\n\n${readerTable(readers)}\n\n${concurrencyTable([...side, ...sqlRuns, ...natsRuns])}`, targets: processorTargetsText(targets), pass: targets.every((t) => t.pass !== false) }
}

// Run only when started as a script (bench/run.ts imports this module).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const counts = process.argv.slice(2).map(Number).filter((n) => n > 0)
  const result = await runProcessorBench(counts.length > 0 ? counts : [100_000, 1_000_000], (line) => { process.stderr.write(line + '\n') })
  process.stdout.write(`\n${result.table}\n\n${result.targets}\n`)
  process.exitCode = result.pass ? 0 : 1
}
