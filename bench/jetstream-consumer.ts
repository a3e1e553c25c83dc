/**
 * A JetStream consumer's records/s to the file target: N normalised records published to a stream
 * of its own (deleted afterwards), then `callback-spool process --source nats://...` through the
 * real CLI, one pass (one-shot) to the default file target, at --concurrency 32 and 1; wall
 * records/s and CPU µs per record (the processor's user + system time, from /usr/bin/time).
 * A pass includes connecting, creating the consumer and the last fetch's wait (at most 1 s).
 *
 *   npm run bench -- --only processor            (after the NATS target's part)
 *   npm run build && node --import tsx bench/jetstream-consumer.ts [records]
 *
 * The server: CALLBACK_SPOOL_TEST_NATS (HOST:PORT), as for the tests, else 127.0.0.1:4222; a
 * server that cannot be reached is a SKIP. Target: at least 8,000 records/s.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { pass } from './concurrency.js'
import type { ProcessorTarget } from './processor-report.js'

export const CONSUMER_RECORDS = 100_000
export const TARGET_CONSUMER = 8_000
const ENV = 'CALLBACK_SPOOL_TEST_NATS'
const KINDS = ['delivery', 'reply', 'optout', 'unknown'] as const

export interface ConsumerRun {
  records: number
  concurrency: number
  rate: number
  cpuUs: number
  load: string
}

const int = (n: number): string => Number.isNaN(n) ? 'failed' : Math.round(n).toLocaleString('en-US')

/** Records as the NATS target publishes them (many numbers, the four kinds). */
function record (i: number): Record<string, unknown> {
  const kind = KINDS[i % 4]!
  return {
    kind,
    provider: 'octopush',
    id: randomUUID(),
    received_at: new Date().toISOString(),
    message_id: `sms_${i.toString(16)}`,
    number: `+336${String(10_000_000 + i % 1000).slice(1)}`,
    our_number: null,
    event_date: '2020-11-04',
    event_time: '2020-11-04T10:11:45.000Z',
    fields: { message_id: `sms_${i.toString(16)}`, number: `+336${String(10_000_000 + i % 1000).slice(1)}`, status: 'DELIVERED', delivery_date: '2020-11-04 11:11:45' },
  }
}

async function publish (nc: NatsConnection, stream: string, prefix: string, count: number): Promise<void> {
  const jsm = await jetstreamManager(nc)
  await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] })
  const js = jetstream(nc, { timeout: 30_000 })
  for (let i = 0; i < count; i += 256) {
    const batch: Array<Promise<unknown>> = []
    for (let j = i; j < Math.min(count, i + 256); j++) {
      const r = record(j)
      batch.push(js.publish(`${prefix}.${String(r.kind)}`, JSON.stringify(r), { msgID: r.id as string }))
    }
    await Promise.all(batch)
  }
}

/** One consumer pass over `count` records published to a new stream; the stream is deleted afterwards. */
async function consumerPass (nc: NatsConnection, address: string, count: number, concurrency: number): Promise<ConsumerRun> {
  const tag = randomBytes(6).toString('hex')
  const stream = `CS_BENCH_C_${tag}`
  const dataDir = await mkdtemp(join(tmpdir(), 'callback-spool-bench-'))
  const jsm = await jetstreamManager(nc)
  try {
    await publish(nc, stream, `csbenchc${tag}`, count)
    const load = loadavg().map((n) => n.toFixed(2)).join(' ')
    const out = join(dataDir, 'out.ndjson')
    const r = await pass(dataDir, count, ['--source', `nats://${address}?stream=${stream}&consumer=bench`, '--on', `*=file:${out}`, '--concurrency', String(concurrency)])
    const lines = (await readFile(out, 'utf8').catch(() => '')).split('\n').length - 1
    const info = await jsm.consumers.info(stream, 'bench')
    if (lines !== count || info.ack_floor.stream_seq !== count) throw new Error(`${lines} lines written and ${info.ack_floor.stream_seq} acked, not ${count}`)
    return { records: count, concurrency, rate: r.rate, cpuUs: r.cpuUs, load }
  } finally {
    await jsm.streams.delete(stream).catch(() => {})
    await rm(dataDir, { recursive: true, force: true })
  }
}

export async function runConsumerBench (log: (line: string) => void, count = CONSUMER_RECORDS, env: NodeJS.ProcessEnv = process.env): Promise<{ runs: ConsumerRun[], skipped?: string }> {
  const address = env[ENV] ?? '127.0.0.1:4222'
  let nc: NatsConnection
  try {
    nc = await connect({ servers: address, timeout: 3000 })
  } catch (err) {
    const skipped = `no nats-server at ${address} (${(err as Error).message}); set ${ENV}`
    log(`  JetStream consumer: skipped, ${skipped}`)
    return { runs: [], skipped }
  }
  try {
    const runs: ConsumerRun[] = []
    for (const concurrency of [32, 1]) {
      const run = await consumerPass(nc, address, count, concurrency)
      log(`  JetStream consumer -> file, ${int(count)} records, --concurrency ${concurrency}: ${int(run.rate)} records/s, ${run.cpuUs.toFixed(1)} µs CPU/record (load average ${run.load})`)
      runs.push(run)
    }
    return { runs }
  } finally {
    await nc.close()
  }
}

export function consumerTable (runs: ConsumerRun[]): string {
  const rows = runs.map((r) => `| JetStream consumer (--source) -> file | ${int(r.records)} | ${r.concurrency} | ${int(r.rate)} | ${r.cpuUs.toFixed(1)} | ${r.load} |`)
  return ['| source -> target | records | --concurrency | records/s (wall) | CPU µs/record | load average at start |', '|---|---:|---:|---:|---:|---|', ...rows].join('\n')
}

export function consumerTargets (result: { runs: ConsumerRun[], skipped?: string }): ProcessorTarget[] {
  const label = `JetStream consumer to the file target: >= ${int(TARGET_CONSUMER)} records/s`
  if (result.skipped !== undefined) return [{ label, pass: undefined, measured: `skipped: ${result.skipped}` }]
  const best = Math.max(...result.runs.map((r) => r.rate))
  return [{ label, pass: best >= TARGET_CONSUMER, measured: `${int(best)} records/s` }]
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const count = process.argv[2] === undefined ? CONSUMER_RECORDS : Number(process.argv[2])
  const result = await runConsumerBench((line) => process.stderr.write(line + '\n'), count)
  process.stdout.write(consumerTable(result.runs) + '\n\n')
  for (const t of consumerTargets(result)) process.stdout.write(`${t.pass === undefined ? 'SKIP' : t.pass ? 'PASS' : 'FAIL'}  ${t.label}: ${t.measured}\n`)
}
