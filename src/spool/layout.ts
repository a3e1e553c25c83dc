/**
 * The data directory's layout, and the names of spool segments.
 *
 *   <data-dir>/receiver.lock, processor.lock   one owner per role (lock.ts)
 *   <data-dir>/spool/        segments, `<seq>-<created>.ndjson`, names sort in write order;
 *                            `.durable-length` (durable-length.ts) and `.refused` (refused.ts)
 *   <data-dir>/state/        the processor's checkpoint, attempt counts, de-duplication keys, last
 *                            pass and pass in progress, the delivery log and its key, the
 *                            receiver's answers
 *   <data-dir>/quarantine/   torn fragments, `<segment>@<offset>.fragment`
 *   <data-dir>/dead/         dead letters, NDJSON
 *   <data-dir>/out/          the default file handlers' output, `<kind>.ndjson`
 *   <data-dir>/requeue/      records to dispatch again first (`dead retry` writes there)
 *
 * Every path of the data dir is named here, once: each command builds its DataLayout from
 * `--data-dir` at its start (`dataLayout`) and hands it down; nothing below rebuilds a path.
 */
import { readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'

/** Every command's --data-dir default: `data/` in the working directory. */
export const DEFAULT_DATA_DIR = './data'

export interface DataLayout {
  /** --data-dir as given (maybe relative): what a message repeats when it suggests a command. */
  readonly given: string
  /** The data dir's absolute path. */
  readonly root: string
  /** `<role>.lock`: one owner per role (lock.ts). */
  readonly locks: Readonly<{ receiver: string, processor: string }>
  readonly spool: string
  readonly state: string
  /** The processor's position in the spool (checkpoint.ts). */
  readonly checkpoint: string
  /** Failed passes per record (processor/attempts.ts). */
  readonly attempts: string
  /** The keys remembered for `--dedupe-window` (processor/dedupe.ts). */
  readonly dedupeKeys: string
  /** The last pass's outcome and figures, written by the processor for `status`. */
  readonly lastPass: string
  /** The pass in progress, rewritten while it runs (processor/pass-watch.ts). */
  readonly passProgress: string
  /** The delivery log's daily files, for `trace` (delivery-log.ts). */
  readonly deliveries: string
  /** The key of the delivery log's number hashes (delivery-log.ts). */
  readonly traceKey: string
  /** What the running receiver answered, for `status` (receiver-answers.ts). */
  readonly receiverAnswers: string
  readonly quarantine: string
  readonly dead: string
  readonly out: string
  readonly requeue: string
}

/** The layout of the data dir `dataDir` (as given by --data-dir): built once per command. */
export function dataLayout (dataDir: string): DataLayout {
  const root = resolve(dataDir)
  const state = join(root, 'state')
  return Object.freeze({
    given: dataDir,
    root,
    locks: Object.freeze({ receiver: join(root, 'receiver.lock'), processor: join(root, 'processor.lock') }),
    spool: join(root, 'spool'),
    state,
    checkpoint: join(state, 'checkpoint.json'),
    attempts: join(state, 'attempts.json'),
    dedupeKeys: join(state, 'dedupe-keys.bin'),
    lastPass: join(state, 'last-pass.json'),
    passProgress: join(state, 'pass-progress.json'),
    deliveries: join(state, 'deliveries'),
    traceKey: join(state, 'trace.key'),
    receiverAnswers: join(state, 'receiver-answers.json'),
    quarantine: join(root, 'quarantine'),
    dead: join(root, 'dead'),
    out: join(root, 'out'),
    requeue: join(root, 'requeue'),
  })
}

const SEGMENT_RE = /^(\d{12})-(\d{8}T\d{9}Z)\.ndjson$/

export interface SegmentName {
  name: string
  seq: number
  /** When the segment was created, from its name. */
  createdAt: Date
}

/** `000000000042-20261127T115217123Z.ndjson`: a fixed-width sequence first, so names sort in write order. */
export function segmentName (seq: number, createdAt: Date): string {
  const stamp = createdAt.toISOString().replace(/[-:.]/g, '')
  return `${String(seq).padStart(12, '0')}-${stamp}.ndjson`
}

export function parseSegmentName (name: string): SegmentName | undefined {
  const m = SEGMENT_RE.exec(name)
  if (m === null) return undefined
  const s = m[2]!
  const iso = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}.${s.slice(15, 18)}Z`
  return { name, seq: Number(m[1]), createdAt: new Date(iso) }
}

export function quarantineName (segment: string, offset: number): string {
  return `${segment}@${offset}.fragment`
}

/** The spool's segments, oldest first; other files are ignored. */
export async function listSegments (spoolDir: string): Promise<SegmentName[]> {
  let names: string[]
  try {
    names = await readdir(spoolDir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const segments: SegmentName[] = []
  for (const name of names) {
    const parsed = parseSegmentName(name)
    if (parsed !== undefined) segments.push(parsed)
  }
  return segments.sort((a, b) => a.seq - b.seq)
}
