/**
 * `npm run bench`: the receiver (spawned through the real CLI, --durability fsync) against a bare
 * node:http server (the ceiling) and a naive one that fdatasyncs once per request, at 1, 16 and
 * 64 connections (two naive ones: `naive` syncs one request at a time, the sketch the receiver's
 * targets were set against (bench/NOTES.md); `naive-async` leaves its syncs to libuv's pool,
 * where up to four overlap); then the two durable ones again with every sync slowed to 5 ms by strace, as
 * on a real disk. Then the start-up (bench/startup.ts) and the processor (bench/processor.ts).
 * Prints each part's table and targets as PASS/FAIL, and writes them to bench/RESULTS.md.
 *
 *   npm run bench               3 rounds of 4 s per figure, about 4 minutes, then start-up and processor
 *   npm run bench -- --quick    1 round of 3 s
 *   npm run bench -- --rounds 5 --seconds 6
 *   npm run bench -- --only receiver|startup|processor|dedupe
 *   npm run bench -- --only dedupe --records 100000   (bench/dedupe.ts: 1 M keys in the window, and a pass with it on and off)
 *   npm run bench -- --only processor --records 100000,1000000
 *
 * The processor part (bench/processor.ts): spools of 100k and 1M records through `callback-spool
 * process` to the default file handler, records/s, CPU per record and peak RSS, beside
 * `jq -c .` over the same files when jq is installed; the reader against the `ndjson` package; the
 * targets at --concurrency 32 beside 1.
 *
 * The servers run side by side (idle but for the one under load) and the rounds interleave them,
 * so a burst of load from elsewhere on a shared machine hits one round of each, not one server;
 * each figure is the median of its rounds. Exits 1 if a target is missed, 2 if wrk or strace is
 * missing (for the receiver part).
 */
import { statfs } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { parseArgs } from 'node:util'
import { countLines } from './count-lines.js'
import { runProcessorBench } from './processor.js'
import { runDedupeBench } from './dedupe.js'
import { medianSyncMs } from './disk-probe.js'
import { evaluateTargets, markdownTable, targetsText, type Cell, type SpoolCheck } from './report.js'
import { benchCommand, describeRun, writeResults as writeSection, type Part } from './results.js'
import { runStartupBench, startupTable, startupTargets } from './startup.js'
import { startServer, type RunningServer, type ServerKind } from './servers.js'
import { missingTools, wrkVersion } from './tools.js'
import { runWrk, type WrkResult } from './wrk.js'

const TMPFS_MAGIC = 0x01021994
const CONNECTIONS = [1, 16, 64]
const SLOW_CONNECTIONS = [64, 1]

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    only: { type: 'string' },
    records: { type: 'string' },
  },
})

if (values.only !== undefined && !['receiver', 'startup', 'processor', 'dedupe'].includes(values.only)) {
  throw new Error(`Expected \`--only\` to be receiver, startup, processor or dedupe, got \`${values.only}\``)
}
const recordCounts = (values.records ?? '100000,1000000').split(',').map((v) => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new Error(`Expected \`--records\` to be positive integers separated by commas, got \`${values.records ?? ''}\``)
  return n
})

function positiveInt (name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new Error(`Expected \`--${name}\` to be a positive integer, got \`${value}\``)
  return n
}
const rounds = positiveInt('rounds', values.rounds, values.quick ? 1 : 3)
const seconds = positiveInt('seconds', values.seconds, values.quick ? 3 : 4)
const warmupSeconds = values.quick ? 1 : 2

const log = (line: string): void => { process.stderr.write(line + '\n') }

interface Subject {
  label: string
  kind: ServerKind
  slowSync: boolean
  server: RunningServer
  acknowledged: number
  inFlightAllowance: number
}

async function load (subject: Subject, connections: number, secs: number): Promise<WrkResult> {
  const result = await runWrk(subject.server.port, connections, secs)
  subject.acknowledged += result.acknowledged
  // Without pipelining wrk has at most one request in flight per connection when it stops.
  subject.inFlightAllowance += connections
  return result
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function medianResult (results: WrkResult[]): WrkResult {
  const m = (pick: (r: WrkResult) => number): number => median(results.map(pick))
  return {
    requests: m((r) => r.requests),
    acknowledged: m((r) => r.acknowledged),
    seconds: m((r) => r.seconds),
    requestsPerSecond: m((r) => r.requestsPerSecond),
    errors: {
      connect: m((r) => r.errors.connect),
      read: m((r) => r.errors.read),
      write: m((r) => r.errors.write),
      status: m((r) => r.errors.status),
      timeout: m((r) => r.errors.timeout),
    },
    p50Ms: m((r) => r.p50Ms),
    p99Ms: m((r) => r.p99Ms),
    maxMs: m((r) => r.maxMs),
  }
}

function describe (r: WrkResult): string {
  const errors = Object.entries(r.errors).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ')
  return `${Math.round(r.requestsPerSecond)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms${errors === '' ? '' : `, errors: ${errors}`}`
}

async function measure (subjects: Subject[], connections: number): Promise<Cell[]> {
  const samples = new Map<Subject, WrkResult[]>(subjects.map((s) => [s, []]))
  for (let round = 1; round <= rounds; round++) {
    for (const subject of subjects) {
      const result = await load(subject, connections, seconds)
      samples.get(subject)!.push(result)
      log(`  ${subject.label.padEnd(22)} ${String(connections).padStart(2)} conns, round ${round}: ${describe(result)}`)
    }
  }
  return subjects.map((s) => {
    const results = samples.get(s)!
    return { kind: s.kind, connections, slowSync: s.slowSync, wrk: medianResult(results), rounds: results }
  })
}

async function start (kind: ServerKind, slowSync: boolean): Promise<Subject> {
  const server = await startServer(kind, slowSync)
  return { label: `${kind}${slowSync ? ' (5 ms sync)' : ''}`, kind, slowSync, server, acknowledged: 0, inFlightAllowance: 0 }
}

async function stopAndCount (subject: Subject): Promise<SpoolCheck | undefined> {
  let check: SpoolCheck | undefined
  await subject.server.stop(async (dataPath) => {
    if (subject.kind !== 'receiver') return
    // After a clean stop every line is complete: all that wrk saw acknowledged must be there.
    const count = await countLines(dataPath)
    check = {
      server: subject.label,
      lines: count.lines,
      acknowledged: subject.acknowledged,
      inFlightAllowance: subject.inFlightAllowance,
      tornFiles: count.tornFiles,
    }
  })
  return check
}

const command = benchCommand(process.argv.slice(2))
const runs = (part: Part): boolean => values.only === undefined || values.only === part

/** Each part goes to bench/RESULTS.md as soon as it is measured: a run stopped later keeps it. */
async function writeResults (section: Partial<Record<Part, string>>): Promise<void> {
  await writeSection(section)
  log(`bench/RESULTS.md: ${Object.keys(section).join(', ')} written`)
}

async function main (): Promise<number> {
  let code = 0
  if (values.only === 'dedupe') {
    const startLoad = loadavg()
    log(`dedupe bench, ${new Date().toISOString()}: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load average ${startLoad.map((l) => l.toFixed(2)).join(' ')}`)
    const dedupe = await runDedupeBench(1_000_000, values.records === undefined ? [100_000] : recordCounts, log)
    process.stdout.write(`\n${dedupe.table}\n\n${dedupe.targets}\n`)
    await writeResults({ dedupe: `${describeRun(command, startLoad)}\n\n${dedupe.table}\n\n\`\`\`\n${dedupe.targets}\n\`\`\`` })
    return dedupe.pass ? 0 : 1
  }
  if (runs('receiver')) {
    const startLoad = loadavg()
    const receiver = await receiverBench()
    code = Math.max(code, receiver.code)
    if (receiver.text !== undefined) await writeResults({ receiver: `${describeRun(command, startLoad)} ${receiver.about}\n\n${receiver.text}` })
  }
  if (runs('startup')) {
    const startLoad = loadavg()
    log(`start-up bench, ${new Date().toISOString()}: load average ${startLoad.map((n) => n.toFixed(2)).join(' ')}`)
    const subjects = await runStartupBench(values.quick ? 5 : 20, log)
    const targets = startupTargets(subjects)
    const text = `${startupTable(subjects)}\n\n\`\`\`\n${targets.map((t) => `${t.pass ? 'PASS' : 'FAIL'}  ${t.label}: ${t.measured}`).join('\n')}\n\`\`\``
    process.stdout.write(`\n${text}\n`)
    await writeResults({ startup: `${describeRun(command, startLoad)} Each subject spawned ${values.quick ? 5 : 20} times, the subjects in turn, for its wall time from the parent, and as many times through /usr/bin/time for its CPU time (user + system); medians.\n\n${text}` })
    if (!targets.every((t) => t.pass)) code = Math.max(code, 1)
  }
  if (runs('processor')) {
    const startLoad = loadavg()
    log(`processor bench, ${new Date().toISOString()}: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ` +
      `load average ${startLoad.map((n) => n.toFixed(2)).join(' ')}; records: ${recordCounts.join(', ')}`)
    const processor = await runProcessorBench(recordCounts, log)
    process.stdout.write(`\n${processor.table}\n\n${processor.targets}\n`)
    await writeResults({ processor: `${describeRun(command, startLoad)} Wall time from the parent; CPU time (user + system) and peak RSS from /usr/bin/time -v.\n\n${processor.table}\n\n\`\`\`\n${processor.targets}\n\`\`\`` })
    if (!processor.pass) code = Math.max(code, 1)
  }
  return code
}

async function receiverBench (): Promise<{ code: number, text?: string, about?: string }> {
  const problems = missingTools()
  if (problems.length > 0) {
    for (const p of problems) log(p)
    return { code: 2 }
  }
  const fs = await statfs(tmpdir())
  if (fs.type === TMPFS_MAGIC) log(`warning: ${tmpdir()} is a tmpfs, where fdatasync costs nothing; set TMPDIR to a directory on a disk`)

  const about = `${wrkVersion()}; fdatasync in ${tmpdir()} ${(await medianSyncMs()).toFixed(2)} ms (median of 200); ` +
    `${rounds} round(s) of ${seconds} s per figure, after a ${warmupSeconds} s warm-up, the servers' rounds interleaved; each figure the median of its rounds.`
  log(`callback-spool bench, ${new Date().toISOString()}: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ` +
    `load average ${loadavg().map((n) => n.toFixed(2)).join(' ')}, ${about}`)

  const subjects: Subject[] = []
  try {
    for (const [kind, slow] of [['bare', false], ['naive', false], ['naive-async', false], ['receiver', false], ['naive', true], ['receiver', true]] as const) {
      subjects.push(await start(kind, slow))
    }
    const fast = subjects.filter((s) => !s.slowSync)
    const slow = subjects.filter((s) => s.slowSync)
    for (const subject of subjects) await load(subject, 64, warmupSeconds)

    const cells: Cell[] = []
    for (const connections of CONNECTIONS) cells.push(...await measure(fast, connections))
    log('  every fdatasync/fsync slowed to 5 ms (strace inject):')
    for (const connections of SLOW_CONNECTIONS) cells.push(...await measure(slow, connections))

    const checks: SpoolCheck[] = []
    for (const subject of subjects.splice(0)) {
      const check = await stopAndCount(subject)
      if (check !== undefined) checks.push(check)
    }
    const targets = evaluateTargets(cells, checks)
    const text = `${markdownTable(cells)}\n\n\`\`\`\n${targetsText(targets)}\n\`\`\``
    process.stdout.write(`\n${text}\n`)
    return { code: targets.every((t) => t.pass) ? 0 : 1, text, about }
  } finally {
    for (const subject of subjects) await subject.server.stop().catch(() => {})
  }
}

process.exitCode = await main()
