/** Normalised records as the NATS target publishes them, put on a test's stream by the test itself. */
import { randomUUID } from 'node:crypto'
import { jetstream } from '@nats-io/jetstream'
import type { NormalisedCallback } from '../../src/processor/normalise.js'
import type { NatsServer, TestStream } from './nats-server.js'

export function normalisedRecord (i: number, kind: NormalisedCallback['kind'] = 'delivery'): NormalisedCallback {
  return {
    kind,
    provider: 'octopush',
    id: randomUUID(),
    received_at: new Date(Date.UTC(2026, 11, 1, 12, 0, 0, i)).toISOString(),
    message_id: `msg-${i}`,
    number: `+3361234${String(i % 10_000).padStart(4, '0')}`,
    our_number: null,
    event_date: null,
    event_time: null,
    status: kind === 'delivery' ? 'delivered' : undefined,
    fields: { n: String(i) },
  }
}

/** Publishes each record to `<prefix>.<kind>` with its id as Nats-Msg-Id, 64 in flight; returns them. */
export async function publishRecords (server: NatsServer, stream: TestStream, records: NormalisedCallback[]): Promise<NormalisedCallback[]> {
  const js = jetstream(server.nc, { timeout: 10_000 })
  for (let i = 0; i < records.length; i += 64) {
    await Promise.all(records.slice(i, i + 64).map((r) => js.publish(`${stream.prefix}.${r.kind}`, JSON.stringify(r), { msgID: r.id })))
  }
  return records
}

/** The consumer URL for `--source` on this test's stream, with a consumer name of its own. */
export function sourceUrl (server: NatsServer, stream: TestStream, consumer = 'procs'): string {
  return `nats://${server.address}?stream=${stream.name}&consumer=${consumer}`
}
