/**
 * The NATS target in the processor bench: 100k records (many numbers, the four kinds) forwarded
 * to JetStream (an R1 stream of its own per pass, created by the target, deleted afterwards)
 * through the real CLI, at `--concurrency 32` beside 1, and the file target over the same spool
 * in the same run.
 *
 *   npm run bench -- --only processor            (after bench/sql.ts)
 *   npm run build && node --import tsx bench/nats.ts
 *
 * The server: CALLBACK_SPOOL_TEST_NATS (HOST:PORT), as for the tests, else 127.0.0.1:4222; a
 * server that cannot be reached is a SKIP. Target: at least 8,000 records/s at 32.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { CONCURRENCY, pass, type ConcurrencyRun } from './concurrency.js'
import { generateSpool } from './processor.js'
import type { ProcessorTarget } from './processor-report.js'

export const NATS_RECORDS = 100_000
export const TARGET_NATS = 8_000
const ENV = 'CALLBACK_SPOOL_TEST_NATS'

export interface NatsRuns {
  /** Undefined: the server could not be reached (why in `skipped`). */
  nats: ConcurrencyRun | undefined
  file: ConcurrencyRun | undefined
  skipped?: string
}

const int = (n: number): string => Number.isNaN(n) ? 'failed' : Math.round(n).toLocaleString('en-US')
const load = (): string => loadavg().map((n) => n.toFixed(2)).join(' ')

/** One pass into a new stream, deleted afterwards; records/s (NaN if it failed) and CPU µs per record. */
async function passIntoNewStream (nc: NatsConnection, address: string, dataDir: string, concurrency: number): Promise<{ rate: number, cpuUs: number }> {
  const tag = randomBytes(6).toString('hex')
  const name = `CS_BENCH_${tag}`
  const jsm = await jetstreamManager(nc)
  try {
    const result = await pass(dataDir, NATS_RECORDS, ['--on', `*=nats://${address}?stream=${name}&subject=csbench${tag}`, '--concurrency', String(concurrency)])
    const stored = (await jsm.streams.info(name)).state.messages
    if (stored !== NATS_RECORDS) throw new Error(`the stream holds ${stored} messages, not ${NATS_RECORDS}`)
    return result
  } finally {
    await jsm.streams.delete(name).catch(() => {})
  }
}

export async function runNatsBench (log: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<NatsRuns> {
  const address = env[ENV] ?? '127.0.0.1:4222'
  let nc: NatsConnection
  try {
    nc = await connect({ servers: address, timeout: 3000 })
  } catch (err) {
    const skipped = `no nats-server at ${address} (${(err as Error).message}); set ${ENV}`
    log(`  NATS: skipped, ${skipped}`)
    return { nats: undefined, file: undefined, skipped }
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'callback-spool-bench-'))
  try {
    await generateSpool(dataDir, NATS_RECORDS, 1000)
    const run = async (target: string, measure: (concurrency: number) => Promise<{ rate: number, cpuUs: number }>): Promise<ConcurrencyRun> => {
      const many = await measure(CONCURRENCY)
      const manyLoad = load()
      const one = await measure(1)
      const r: ConcurrencyRun = {
        target,
        records: NATS_RECORDS,
        sequential: one.rate,
        concurrent: many.rate,
        sequentialCpuUs: one.cpuUs,
        concurrentCpuUs: many.cpuUs,
        failed: Number.isNaN(one.rate) || Number.isNaN(many.rate),
      }
      log(`  ${target}, ${int(NATS_RECORDS)} records: --concurrency ${CONCURRENCY} ${int(r.concurrent)} records/s, ${r.concurrentCpuUs.toFixed(1)} µs CPU/record (load average ${manyLoad}), ` +
        `1 ${int(r.sequential)} records/s, ${r.sequentialCpuUs.toFixed(1)} µs CPU/record (load average ${load()})${r.failed ? ' (a pass failed)' : ''}`)
      return r
    }
    const nats = await run(`NATS JetStream ${nc.info?.version ?? ''} R1`.replace('  ', ' '), (c) => passIntoNewStream(nc, address, dataDir, c))
    const file = await run('file, same spool as NATS', (c) => pass(dataDir, NATS_RECORDS, ['--on', `*=file:${join(dataDir, 'out', 'all.ndjson')}`, '--concurrency', String(c)]))
    return { nats, file }
  } finally {
    await nc.close()
    await rm(dataDir, { recursive: true, force: true })
  }
}

export function natsTargets (runs: NatsRuns): ProcessorTarget[] {
  const label = `NATS JetStream R1 at --concurrency ${CONCURRENCY}: >= ${int(TARGET_NATS)} records/s`
  if (runs.nats === undefined) return [{ label, measured: runs.skipped ?? 'not measured', pass: undefined }]
  return [{ label, measured: `${int(runs.nats.concurrent)} records/s (${int(runs.nats.sequential)} at 1; file ${int(runs.file!.concurrent)})`, pass: !runs.nats.failed && runs.nats.concurrent >= TARGET_NATS }]
}

// Run only when started as a script.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = await runNatsBench((line) => { process.stderr.write(line + '\n') })
  for (const t of natsTargets(runs)) process.stdout.write(`${t.pass === undefined ? 'SKIP' : t.pass ? 'PASS' : 'FAIL'}  ${t.label}: ${t.measured}\n`)
}
