/**
 * `callback-spool replay --since TIME | --from SEGMENT:OFFSET | --all`: moves the checkpoint back
 * so that the next pass dispatches those records again (the handlers are idempotent by `id`).
 * It holds the processor lock while it works, so no pass moves the checkpoint meanwhile, and it
 * never moves the checkpoint forward: that would skip records.
 */
import { CancelledError, CheckpointError, UsageError } from '../errors.js'
import { decodeRecord } from '../record.js'
import { loadCheckpoint, saveCheckpoint, validatePosition, type Checkpoint } from '../spool/checkpoint.js'
import { dataLayout, listSegments, type DataLayout } from '../spool/layout.js'
import { readLineBatches, segmentBefore, type SpoolPosition } from '../spool/reader.js'
import { parseTimeArg, takeProcessorLock, type ToolIO } from './common.js'

export type ReplayTarget = { all: true } | { from: SpoolPosition } | { sinceMs: number }

export interface ReplayOptions {
  dataDir: string
  target: ReplayTarget
  yes: boolean
}

export function replayOptionsFrom (opts: Record<string, unknown>, now = Date.now()): ReplayOptions {
  const given = (['since', 'from', 'all'] as const).filter((k) => opts[k] !== undefined && opts[k] !== false)
  if (given.length !== 1) throw new UsageError('replay needs exactly one of --since TIME, --from SEGMENT:OFFSET and --all')
  let target: ReplayTarget
  if (opts.all === true) target = { all: true }
  else if (opts.since !== undefined) target = { sinceMs: parseTimeArg('--since', String(opts.since), now) }
  else target = { from: parseFrom(String(opts.from)) }
  return { dataDir: String(opts.dataDir), target, yes: opts.yes === true }
}

/** `000000000001-20261127T115217123Z.ndjson:1234` -> position. */
export function parseFrom (value: string): SpoolPosition {
  const colon = value.lastIndexOf(':')
  const offset = Number(value.slice(colon + 1))
  if (colon <= 0 || !/^\d+$/.test(value.slice(colon + 1)) || !Number.isSafeInteger(offset)) {
    throw new UsageError(`Expected \`--from\` to be SEGMENT:OFFSET (a segment file name and a byte offset at a line start), got \`${value}\``)
  }
  return { segment: value.slice(0, colon), offset }
}

function before (a: SpoolPosition, b: SpoolPosition): boolean {
  if (a.segment === b.segment) return a.offset < b.offset
  return segmentBefore(a.segment, b.segment)
}

function show (p: SpoolPosition | undefined): string {
  return p === undefined ? 'the start of the spool' : `${p.segment}:${p.offset}`
}

/** The start of the first record received at or after `sinceMs`; undefined when there is none. */
async function findSince (layout: DataLayout, sinceMs: number): Promise<SpoolPosition | undefined> {
  for await (const batch of readLineBatches(layout, undefined)) {
    for (const line of batch.lines) {
      const d = decodeRecord(line.line)
      if (d.ok && Date.parse(d.record.received_at) >= sinceMs) return { segment: line.segment, offset: line.offset }
    }
  }
  return undefined
}

/** Records (valid lines) and invalid lines from `from` up to `to` (exclusive), or to the end of the spool. */
async function countLines (layout: DataLayout, from: SpoolPosition, to: SpoolPosition | undefined): Promise<{ records: number, invalid: number }> {
  const n = { records: 0, invalid: 0 }
  for await (const batch of readLineBatches(layout, from)) {
    for (const line of batch.lines) {
      if (to !== undefined && !before({ segment: line.segment, offset: line.offset }, to)) return n
      if (decodeRecord(line.line).ok) n.records++
      else n.invalid++
    }
  }
  return n
}

export interface ReplayResult {
  /** Records the next pass dispatches again. */
  requeued: number
  from?: SpoolPosition
  to?: SpoolPosition
  moved: boolean
  message: string
}

export async function runReplay (options: ReplayOptions, io: ToolIO): Promise<ReplayResult> {
  const layout = dataLayout(options.dataDir)
  const lock = await takeProcessorLock(layout, 'replay')
  try {
    let current: Checkpoint | undefined
    let currentBad: string | undefined
    try {
      current = await loadCheckpoint(layout)
    } catch (err) {
      if (!(err instanceof CheckpointError)) throw err
      currentBad = err.message
      current = undefined
    }
    const segments = await listSegments(layout.spool)
    let target: SpoolPosition | undefined
    if ('all' in options.target) {
      target = segments[0] === undefined ? undefined : { segment: segments[0].name, offset: 0 }
    } else if ('from' in options.target) {
      target = await validatePosition(layout, options.target.from)
    } else {
      target = await findSince(layout, options.target.sinceMs)
    }
    if (target === undefined) {
      return { requeued: 0, moved: false, message: 'nothing to replay: no record in the spool matches; the checkpoint is unchanged\n' }
    }
    if (currentBad === undefined && current === undefined) {
      return { requeued: 0, moved: false, message: 'nothing to replay: there is no checkpoint yet, so the next pass reads the whole spool anyway\n' }
    }
    if (current !== undefined && !before(target, current)) {
      return { requeued: 0, moved: false, message: `nothing to replay: the checkpoint (${show(current)}) is already at or before ${show(target)}; the checkpoint is unchanged\n` }
    }
    const counted = await countLines(layout, target, current)
    const requeued = counted.records
    // Invalid lines in the range are read again too, and dead-lettered again.
    const invalid = counted.invalid === 0 ? '' : ` (and ${counted.invalid} invalid line(s), dead-lettered again)`
    const question = currentBad === undefined
      ? `move the checkpoint from ${show(current)} back to ${show(target)}: the next pass dispatches ${requeued} record(s) again${invalid}`
      : `replace the bad checkpoint with ${show(target)}: the next pass reads ${requeued} record(s) from there${invalid}`
    if (!options.yes) {
      if (!io.stdinIsTTY) throw new UsageError(`replay would ${question}; pass --yes to confirm (stdin is not a terminal)`)
      if (!await io.confirm(`${question[0]!.toUpperCase()}${question.slice(1)}. Go ahead? [y/N] `)) {
        throw new CancelledError('replay cancelled; the checkpoint is unchanged')
      }
    }
    await saveCheckpoint(layout, target)
    return {
      requeued,
      from: current,
      to: target,
      moved: true,
      message: `checkpoint moved from ${currentBad === undefined ? show(current) : 'a bad checkpoint'} to ${show(target)}: ${requeued} record(s) will be dispatched again by the next pass${invalid}\n`,
    }
  } finally {
    await lock.release()
  }
}

/** The `replay` command. */
export async function replayCommand (opts: Record<string, unknown>, io: ToolIO): Promise<void> {
  const result = await runReplay(replayOptionsFrom(opts), io)
  await io.write(result.message)
}
