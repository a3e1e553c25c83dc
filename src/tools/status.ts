/**
 * `callback-spool status`: the state of a data dir at a glance (or as JSON for scripts): the
 * spool's segments, who runs, the checkpoint and the backlog behind it, dead letters,
 * quarantined fragments, re-queued files, the last pass, and free disk.
 */
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { listRequeueFiles } from '../processor/requeue.js'
import { computeBacklog } from '../spool/backlog.js'
import { readCheckpoint, validatePosition } from '../spool/checkpoint.js'
import { freeBytes } from '../fs/disk.js'
import { listNdjsonFiles, readFileNoFollow } from '../fs/durable.js'
import { dataLayout, listSegments, type DataLayout } from '../spool/layout.js'
import { describeHolder, findHolder, type LockRole } from '../spool/lock.js'
import { formatBytes, parseBytes, parseDuration } from '../units.js'
import type { PassProgress } from '../processor/pass-watch.js'
import type { StuckRecord } from '../processor/pass-activity.js'
import { findLastSpooled, type LastSpooled } from '../spool/last-spooled.js'
import { readReceiverAnswers, type ReceiverAnswers } from '../spool/receiver-answers.js'
import { assessHealth, HEALTH_EXIT, type Health, type HealthThresholds } from './health.js'
import { readPassState } from './status-pass.js'
import { existingDataDir } from '../spool/data-dir.js'
import { PermissionError, UsageError } from '../errors.js'
import { isPermissionDenied, permissionError } from '../permission.js'
import { formatAge, type ToolIO } from './common.js'

export interface SegmentInfo {
  name: string
  created_at: string
  bytes: number
  modified_at: string
}

export interface HolderInfo {
  running: boolean
  /** The lock file names the live process that holds the lock; false: some other process holds it. */
  identified: boolean
  pid: number | null
  /** The holder's program and subcommand, when identified. */
  command: string | null
  hostname: string | null
  started_at: string | null
  /** How `status` puts it when the holder is not identified. */
  note: string | null
}

export interface StatusReport {
  data_dir: string
  generated_at: string
  segments: { count: number, bytes: number, oldest: SegmentInfo | null, newest: SegmentInfo | null }
  receiver: HolderInfo
  processor: HolderInfo
  checkpoint: { segment: string, offset: number, updated_at: string, valid: boolean, error: string | null } | null
  /** null when the checkpoint is bad (the processor will not run until it is repaired). */
  backlog: { records: number, bytes: number, oldest_received_at: string | null, oldest_age_seconds: number | null } | null
  dead_letters: number
  quarantined: number
  requeue_files: number
  last_pass: { when: string, outcome: string, figures: Record<string, unknown>, stuck?: StuckRecord | null } | null
  /** The last callback actually spooled (not the mtime of an empty segment). */
  last_spooled: LastSpooled | null
  /** The pass running now, when a processor runs and has written it. */
  pass_in_progress: PassProgress | null
  /** The record the processor is stuck on (the pass in progress, or the last pass), if any. */
  stuck: StuckRecord | null
  /** What the receiver answered, by status code, as it last wrote it. */
  receiver_answers: ReceiverAnswers | null
  disk_free_bytes: number
  min_free_bytes: number
  health: { state: Health, reasons: string[] }
}

export const STATUS_DEFAULTS: HealthThresholds = { minFreeBytes: 1024 ** 3, maxLagMs: 10 * 60_000 }

async function holder (layout: DataLayout, role: LockRole): Promise<HolderInfo> {
  const h = await findHolder(layout, role)
  // Only what was checked is shown as the holder's; a claim that did not check out is in the note.
  const info = h.identified ? h.info : undefined
  return {
    running: h.running,
    identified: h.identified,
    pid: info?.pid ?? null,
    command: h.command ?? null,
    hostname: info?.hostname ?? null,
    started_at: info?.started_at ?? null,
    note: h.running && !h.identified ? describeHolder(h, layout.locks[role]) : null,
  }
}

async function segmentInfo (spool: string, name: string, createdAt: Date): Promise<SegmentInfo | null> {
  try {
    const s = await stat(join(spool, name))
    return { name, created_at: createdAt.toISOString(), bytes: s.size, modified_at: s.mtime.toISOString() }
  } catch {
    return null
  }
}

async function countLines (dir: string): Promise<number> {
  let n = 0
  for (const path of await listNdjsonFiles(dir)) {
    const text = await readFileNoFollow(path, 'utf8').catch(() => '')
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++
  }
  return n
}

async function listNames (dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
}

export async function collectStatus (layout: DataLayout, now = Date.now(), thresholds: HealthThresholds = STATUS_DEFAULTS): Promise<StatusReport> {
  await existingDataDir(layout)
  const segments = await listSegments(layout.spool)
  let bytes = 0
  const infos: SegmentInfo[] = []
  for (const seg of segments) {
    const info = await segmentInfo(layout.spool, seg.name, seg.createdAt)
    if (info === null) continue
    bytes += info.bytes
    infos.push(info)
  }
  let checkpoint: StatusReport['checkpoint'] = null
  let backlog: StatusReport['backlog'] = null
  try {
    const cp = await readCheckpoint(layout)
    if (cp !== undefined) {
      checkpoint = { segment: cp.segment, offset: cp.offset, updated_at: cp.updated_at, valid: true, error: null }
      await validatePosition(layout, cp)
    }
    const b = await computeBacklog(layout, cp, now)
    backlog = { records: b.records, bytes: b.bytes, oldest_received_at: b.oldestReceivedAt ?? null, oldest_age_seconds: b.oldestAgeMs === undefined ? null : Math.round(b.oldestAgeMs / 1000) }
  } catch (err) {
    // A checkpoint this user may not read is not a bad one: say so (77), never "replay".
    if (err instanceof PermissionError) throw err
    if (isPermissionDenied(err)) throw permissionError(err)
    checkpoint = { segment: checkpoint?.segment ?? '', offset: checkpoint?.offset ?? 0, updated_at: checkpoint?.updated_at ?? '', valid: false, error: (err as Error).message }
  }
  let lastPass: StatusReport['last_pass'] = null
  try {
    lastPass = JSON.parse(await readFileNoFollow(layout.lastPass, 'utf8')) as StatusReport['last_pass']
  } catch {}
  const processor = await holder(layout, 'processor')
  const pass = await readPassState(layout, processor.running, lastPass)
  const report: Omit<StatusReport, 'health'> = {
    data_dir: layout.root,
    generated_at: new Date(now).toISOString(),
    segments: { count: infos.length, bytes, oldest: infos[0] ?? null, newest: infos.at(-1) ?? null },
    receiver: await holder(layout, 'receiver'),
    processor,
    checkpoint,
    backlog,
    dead_letters: await countLines(layout.dead),
    quarantined: (await listNames(layout.quarantine)).filter((n) => n.endsWith('.fragment')).length,
    requeue_files: (await listRequeueFiles(layout)).length,
    last_pass: lastPass,
    last_spooled: await findLastSpooled(layout.spool) ?? null,
    pass_in_progress: pass.inProgress,
    stuck: pass.stuck,
    receiver_answers: await readReceiverAnswers(layout) ?? null,
    disk_free_bytes: await freeBytes(layout.root),
    min_free_bytes: thresholds.minFreeBytes,
  }
  return { ...report, health: assessHealth(report, thresholds) }
}

function since (iso: string | null, now: number): string {
  if (iso === null || iso === '') return '?'
  return `${formatAge(now - Date.parse(iso))} ago`
}

function holderLine (h: HolderInfo, now: number): string {
  if (!h.running) return 'not running'
  if (!h.identified) return `running, ${h.note ?? 'holder unidentified'}`
  return `running, pid ${h.pid ?? '?'}${h.command === null ? '' : ` (${h.command})`} on ${h.hostname ?? '?'} since ${since(h.started_at, now)}`
}

export function formatStatus (r: StatusReport): string {
  const now = Date.parse(r.generated_at)
  const rows: Array<[string, string]> = [['data dir', r.data_dir]]
  rows.push(['receiver', holderLine(r.receiver, now)], ['processor', holderLine(r.processor, now)])
  const s = r.segments
  rows.push(['spool', s.count === 0
    ? 'no segments'
    : `${s.count} segment(s), ${formatBytes(s.bytes)}; oldest created ${since(s.oldest!.created_at, now)}, newest ${s.newest!.name}`])
  rows.push(['last spooled', r.last_spooled === null ? 'no callback spooled yet' : `${since(r.last_spooled.received_at, now)}: record ${r.last_spooled.id}`])
  rows.push(['answered', answersLine(r.receiver_answers, r.receiver.running, now)])
  const cp = r.checkpoint
  rows.push(['checkpoint', cp === null
    ? 'none yet (the next pass starts at the first segment)'
    : cp.valid ? `${cp.segment}:${cp.offset}, saved ${since(cp.updated_at, now)}` : `BAD: ${cp.error ?? ''}`])
  const b = r.backlog
  rows.push(['backlog', b === null
    ? 'unknown (bad checkpoint)'
    : b.records === 0 ? 'none: all processed' : `${b.records} record(s), ${formatBytes(b.bytes)}, oldest received ${b.oldest_age_seconds === null ? '?' : formatAge(b.oldest_age_seconds * 1000) + ' ago'}`])
  const lp = r.last_pass
  if (lp === null) rows.push(['last pass', 'none recorded'])
  else {
    const f = lp.figures as { records_read?: number, dead_lettered?: number, quarantined?: number, duration_ms?: number, lag_records?: number }
    rows.push(['last pass', `${lp.outcome} ${since(lp.when, now)}: ${f.records_read ?? 0} read, ${f.dead_lettered ?? 0} dead-lettered, ${f.quarantined ?? 0} quarantined, ${f.duration_ms ?? 0} ms`])
    const byProvider = (lp.figures as { by_provider?: Record<string, { done: number, dead: number, skipped: number, duplicate: number }> }).by_provider
    if (byProvider !== undefined && Object.keys(byProvider).length > 0) rows.push(['by provider', providersLine(byProvider)])
  }
  if (r.pass_in_progress !== null) rows.push(['pass now', passLine(r.pass_in_progress, now)])
  if (r.stuck !== null) rows.push(['stuck', stuckLine(r.stuck, now)])
  rows.push(['set aside', `${r.dead_letters} dead letter(s), ${r.quarantined} quarantined fragment(s), ${r.requeue_files} re-queue file(s) waiting`])
  rows.push(['free disk', `${formatBytes(r.disk_free_bytes)} (--min-free ${formatBytes(r.min_free_bytes)}${r.disk_free_bytes < r.min_free_bytes ? ': UNDER, the receiver answers 503' : ''})`])
  rows.push(['health', r.health.reasons.length === 0 ? r.health.state : `${r.health.state}: ${r.health.reasons.join('; ')}`])
  return rows.map(([k, v]) => `${k.padEnd(13)}${v}\n`).join('')
}

/** `twilio 120 done, 3 duplicate; vonage 4 done, 1 dead` from the last pass's figures. */
function providersLine (byProvider: Record<string, { done: number, dead: number, skipped: number, duplicate: number }>): string {
  return Object.keys(byProvider).sort().map((name) => {
    const c = byProvider[name]!
    const parts = (['done', 'dead', 'skipped', 'duplicate'] as const).filter((k) => c[k] > 0).map((k) => `${c[k]} ${k}`)
    return `${name} ${parts.length === 0 ? 'nothing' : parts.join(', ')}`
  }).join('; ')
}

/** `404 x3, 200 x120` over the last 5 min, and since the receiver started. */
function answersLine (a: ReceiverAnswers | null, running: boolean, now: number): string {
  if (a === null) return 'nothing recorded (no receiver has run since this was added)'
  const list = (c: Record<string, number>): string => Object.keys(c).length === 0 ? 'nothing' : Object.entries(c).map(([status, n]) => `${status} x${n}`).join(', ')
  const when = running ? `as of ${since(a.updated_at, now)}` : `receiver stopped; figures of ${since(a.updated_at, now)}`
  return `last 5 min: ${list(a.last_5m)}; since start: ${list(a.since_start)} (${when})`
}

function passLine (p: PassProgress, now: number): string {
  const call = p.waiting[0]
  const waits = call === undefined ? 'no handler call waiting' : `waiting on record ${call.id}, target ${call.target} for ${formatAge(now - Date.parse(call.since))}${p.waiting.length > 1 ? ` (and ${p.waiting.length - 1} more call(s))` : ''}`
  return `running since ${since(p.started_at, now)}, ${p.records_read} read; ${waits} (as of ${since(p.updated_at, now)})`
}

/** One line: record, kind, target, error, attempt n of m, since when. */
export function stuckLine (s: StuckRecord, now: number): string {
  return `record ${s.id} (${s.kind}) at ${s.target ?? '-'}: ${s.error}; attempt ${s.attempts} of ${s.max_attempts}, failing since ${since(s.failing_since, now)}, dead-lettered from ${s.dead_after}`
}

/** The `status` command: the report, or with --check the health line, and its exit code. */
export async function statusCommand (opts: { dataDir: string, json?: boolean, check?: boolean, minFree: string, maxLag: string, source?: string }, io: ToolIO): Promise<void> {
  if (opts.source !== undefined) {
    if (opts.check === true) throw new UsageError('Expected only one of `--source` and `--check`')
    const { collectSourceStatus, formatSourceStatus } = await import('./status-source.js')
    const report = await collectSourceStatus(opts.source)
    await io.write(opts.json === true ? JSON.stringify(report, null, 2) + '\n' : formatSourceStatus(report))
    return
  }
  const thresholds = { minFreeBytes: parseBytes('--min-free', opts.minFree), maxLagMs: parseDuration('--max-lag', opts.maxLag) }
  const report = await collectStatus(dataLayout(opts.dataDir), Date.now(), thresholds)
  if (opts.check === true) {
    const { state, reasons } = report.health
    await io.write(opts.json === true ? JSON.stringify(report.health) + '\n' : `${state}${reasons.length === 0 ? '' : ': ' + reasons.join('; ')}\n`)
    process.exitCode = HEALTH_EXIT[state]
    return
  }
  await io.write(opts.json === true ? JSON.stringify(report, null, 2) + '\n' : formatStatus(report))
}
