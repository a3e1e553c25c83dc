/**
 * The data directory's layout, and the names of spool segments.
 *
 *   <data-dir>/spool/        segments, `<seq>-<created>.ndjson`, names sort in write order;
 *                            `.durable-length` (durable-length.ts) and `.refused` (refused.ts)
 *   <data-dir>/state/        the processor's checkpoint and attempt counts
 *   <data-dir>/quarantine/   torn fragments, `<segment>@<offset>.fragment`
 *   <data-dir>/dead/         dead letters, NDJSON
 *   <data-dir>/out/          the default file handlers' output, `<kind>.ndjson`
 *   <data-dir>/requeue/      records to dispatch again first (`dead retry` writes there)
 */
import { readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'

/** Every command's --data-dir default: `data/` in the working directory. */
export const DEFAULT_DATA_DIR = './data'

export interface DataLayout {
  root: string
  spool: string
  state: string
  /** The last pass's outcome and figures, written by the processor for `status`. */
  lastPass: string
  quarantine: string
  dead: string
  out: string
  requeue: string
}

export function dataLayout (dataDir: string): DataLayout {
  const root = resolve(dataDir)
  return {
    root,
    spool: join(root, 'spool'),
    state: join(root, 'state'),
    lastPass: join(root, 'state', 'last-pass.json'),
    quarantine: join(root, 'quarantine'),
    dead: join(root, 'dead'),
    out: join(root, 'out'),
    requeue: join(root, 'requeue'),
  }
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
