/** Spool records for tests: from the sample requests, or made up field by field. */
import { buildRecord } from '../../src/receiver/build-record.js'
import { encodeRecord, newRecordId, type SpoolRecord } from '../../src/record.js'
import { loadFixture } from './fixtures.js'

/** The record the receiver would write for the sample request `name` (a file in test/fixtures). */
export async function fixtureRecord (name: string, now = new Date()): Promise<SpoolRecord> {
  const req = loadFixture(name)
  return buildRecord({ method: req.method, url: req.target, remoteAddr: '127.0.0.1', headers: req.headers, body: req.body }, now)
}

/** A record with the given fields, as the receiver would write for a JSON body. */
export function recordWithFields (fields: Record<string, unknown>, now = new Date()): SpoolRecord {
  const body = JSON.stringify(fields)
  return {
    v: 1,
    id: newRecordId(now.getTime()),
    received_at: now.toISOString(),
    method: 'POST',
    path: '/callbacks',
    query: {},
    remote_addr: '127.0.0.1',
    headers: { 'content-type': 'application/json' },
    body,
    fields,
  }
}

export function deliveryRecord (i: number, now = new Date()): SpoolRecord {
  return recordWithFields({ message_id: `sms_${i}`, number: '+33600112233', status: 'DELIVERED', delivery_date: '2020-11-04 11:11:45' }, now)
}

/** The records as spool lines, each ending in `\n`. */
export function lines (records: SpoolRecord[]): string {
  return records.map(encodeRecord).join('')
}
