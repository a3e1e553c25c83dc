/**
 * `callback-spool trace NUMBER | MESSAGE_ID | ID`: every record of that number (any spelling),
 * message or id, oldest first, each with where it went: handed to which targets and when (the
 * processor's delivery log), pending past the checkpoint, failing (a target keeps refusing it),
 * dead-lettered (with the error, masked), quarantined, or deleted by retention.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { maskNumber } from '../mask.js'
import { loadAttempts } from '../processor/attempts.js'
import { classifyCallback } from '../processor/classify.js'
import { fieldString } from '../processor/normalise.js'
import { maskErrorText } from '../processor/pass-activity.js'
import { decodeRecord } from '../record.js'
import { readCheckpoint } from '../spool/checkpoint.js'
import { loadTraceKey, numberKey, readDeliveryLog, type DeliveryEntry } from '../spool/delivery-log.js'
import { existingDataDir } from '../spool/data-dir.js'
import { readFileNoFollow } from '../fs/durable.js'
import { dataLayout, type DataLayout } from '../spool/layout.js'
import { readLines, segmentBefore } from '../spool/reader.js'
import { type ToolIO } from './common.js'
import { deadLetterId, readDeadLetters } from '../processor/dead-letter-store.js'
import { parseTraceQuery, recordNumber, type TraceQuery } from './trace-query.js'

export type TraceState = 'done' | 'dead' | 'failing' | 'pending' | 'processed' | 'deleted' | 'quarantined'

export interface TracedRecord {
  id: string | null
  received_at: string | null
  kind: string | null
  state: TraceState
  /** Where it was handed (done), or the target that refused it (dead, failing). */
  targets: string[]
  /** When it was settled (done, dead), or last failed (failing). */
  at: string | null
  /** Masked. */
  error: string | null
  attempts: number | null
  /** Where it is: a spool segment and offset, or a quarantined fragment's file. */
  where: string | null
  /** One line for a person. */
  summary: string
}

export interface TraceReport {
  query: string
  /** The number searched for, masked (null when the query is an id). */
  number: string | null
  records: TracedRecord[]
}

export async function traceRecords (layout: DataLayout, query: TraceQuery): Promise<TraceReport> {
  await existingDataDir(layout)
  const key = await loadTraceKey(layout, false)
  const wantedKey = key === undefined || query.number === undefined ? undefined : numberKey(key, query.number)
  const log = new Map<string, DeliveryEntry>()
  for (const entry of await readDeliveryLog(layout)) log.set(entry.id, entry)
  const dead = new Map<string, { error: string, target: string | null, failed_at: string, attempts: number }>()
  for (const { letter } of await readDeadLetters(layout)) {
    const id = deadLetterId(letter)
    if (id !== undefined) dead.set(id, letter)
  }
  const attempts = await loadAttempts(layout)
  const checkpoint = await readCheckpoint(layout)
  const out: TracedRecord[] = []
  const seen = new Set<string>()

  for await (const line of readLines(layout, undefined)) {
    const decoded = decodeRecord(line.line)
    if (!decoded.ok) continue
    const r = decoded.record
    const messageId = fieldString(r.fields.message_id)
    const number = recordNumber(fieldString(r.fields.number))
    if (!(query.text === r.id || query.text === messageId || (query.number !== undefined && number === query.number))) continue
    seen.add(r.id)
    const pending = checkpoint === undefined || segmentBefore(checkpoint.segment, line.segment) ||
      (checkpoint.segment === line.segment && line.offset >= checkpoint.offset)
    const base = { id: r.id, received_at: r.received_at, kind: classifyCallback(r.fields).kind, where: `${line.segment}:${line.offset}` }
    const d = dead.get(r.id)
    const entry = log.get(r.id)
    const failing = attempts[r.id]
    if (d !== undefined) {
      const error = maskErrorText(d.error)
      out.push({ ...base, state: 'dead', targets: d.target === null ? [] : [d.target], at: d.failed_at, error, attempts: d.attempts, summary: `dead-lettered ${d.failed_at} by ${d.target ?? '-'}: ${error} (attempts ${d.attempts}; \`dead retry --id ${r.id}\`)` })
    } else if (pending && failing !== undefined) {
      const error = maskErrorText(failing.last_error)
      out.push({ ...base, state: 'failing', targets: [], at: failing.last_failed_at, error, attempts: failing.attempts, summary: `failing since ${failing.first_failed_at ?? failing.last_failed_at}: ${error} (attempt ${failing.attempts}); the processor stops before it` })
    } else if (pending) {
      out.push({ ...base, state: 'pending', targets: [], at: null, error: null, attempts: null, summary: 'pending: past the checkpoint, not handed over yet' })
    } else if (entry !== undefined) {
      out.push({ ...base, state: 'done', targets: entry.targets, at: entry.at, error: null, attempts: null, summary: `handed to ${entry.targets.join(', ')} at ${entry.at}` })
    } else {
      out.push({ ...base, state: 'processed', targets: [], at: null, error: null, attempts: null, summary: 'processed: no target for its kind, a re-send of a record already handed over (--dedupe-window), or handed over before the delivery log was kept' })
    }
  }

  // Records retention deleted: only the delivery log remembers them.
  for (const entry of log.values()) {
    if (seen.has(entry.id)) continue
    if (!(query.text === entry.id || query.text === entry.message_id || (wantedKey !== undefined && entry.number_key === wantedKey))) continue
    const went = entry.outcome === 'done' ? `handed to ${entry.targets.join(', ')}` : `dead-lettered by ${entry.targets.join(', ') || '-'}`
    out.push({ id: entry.id, received_at: null, kind: entry.kind, state: 'deleted', targets: entry.targets, at: entry.at, error: null, attempts: null, where: null, summary: `deleted by retention; ${went} at ${entry.at}` })
  }

  // Torn fragments: never acknowledged, so never a record; a person may still want to know.
  const spellings = [query.text, ...(query.number === undefined ? [] : [query.number, query.number.replace(/^\+/, '00'), query.number.replace(/^\+/, '%2B')])]
  for (const name of await readdir(layout.quarantine).catch(() => [] as string[])) {
    if (!name.endsWith('.fragment')) continue
    const text = await readFileNoFollow(join(layout.quarantine, name), 'utf8').catch(() => '')
    if (!spellings.some((s) => text.includes(s))) continue
    out.push({ id: null, received_at: null, kind: null, state: 'quarantined', targets: [], at: null, error: null, attempts: null, where: join(layout.quarantine, name), summary: `quarantined: a torn line (never acknowledged to the sender) in ${name}` })
  }

  // UUIDv7 ids sort by time: the deleted ones take their place among the others.
  out.sort((a, b) => (a.id ?? '\uffff').localeCompare(b.id ?? '\uffff'))
  return { query: query.number === undefined ? query.text : maskNumber(query.number), number: query.number === undefined ? null : maskNumber(query.number), records: out }
}

export function formatTrace (r: TraceReport): string {
  const what = r.number === null ? r.query : `number ${r.number}`
  if (r.records.length === 0) return `no record of ${what} (in the spool, the delivery log, the dead letters or quarantine)\n`
  let out = `${r.records.length} record(s) of ${what}, oldest first:\n`
  for (const t of r.records) {
    out += `${(t.received_at ?? t.at ?? '').padEnd(24)}  ${(t.kind ?? '-').padEnd(8)}  ${t.id ?? '-'}  ${t.summary}\n`
  }
  return out
}

/** The `trace` command. */
export async function traceCommand (query: string, opts: { dataDir: string, country?: string, json?: boolean }, io: ToolIO): Promise<void> {
  const report = await traceRecords(dataLayout(opts.dataDir), parseTraceQuery(query, opts.country))
  await io.write(opts.json === true ? JSON.stringify(report, null, 2) + '\n' : formatTrace(report))
}
