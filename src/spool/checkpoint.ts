/**
 * The processor's checkpoint: `<data-dir>/state/checkpoint.json` =
 * `{"segment": "<segment file name>", "offset": <byte offset of the next unread line>, "updated_at": "<iso>"}`.
 *
 * Written atomically and durably (temp file, fsync, rename, fsync of the directory). Checked on
 * load against the spool, never trusted blindly (vector #23076): the segment exists or is older
 * than every segment left; the offset is within the file; the byte before it is a newline.
 */
import { join } from 'node:path'
import { CheckpointError } from '../errors.js'
import { isPermissionDenied, permissionError } from '../permission.js'
import { ensureDir, openNoFollow, readFileNoFollow, writeFileDurably } from '../fs/durable.js'
import { listSegments, parseSegmentName, type DataLayout } from './layout.js'
import { segmentBefore, type SpoolPosition } from './reader.js'

export interface Checkpoint extends SpoolPosition {
  updated_at: string
}

function repairHint (layout: DataLayout): string {
  return `repair it with \`callback-spool replay --data-dir ${layout.given} --from SEGMENT:OFFSET\` (a line start you know was processed) ` +
    `or \`callback-spool replay --data-dir ${layout.given} --all\` (dispatch everything again; handlers are idempotent by id)`
}

/** Reads the checkpoint file without checking it against the spool; undefined when there is none. */
export async function readCheckpoint (layout: DataLayout): Promise<Checkpoint | undefined> {
  const path = layout.checkpoint
  let text: string
  try {
    text = await readFileNoFollow(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    // The file is not bad, the user is: no replay (that would hand every record over again).
    if (isPermissionDenied(err)) throw permissionError(err, path)
    throw new CheckpointError(`cannot read the checkpoint ${path}: ${(err as Error).message}; ${repairHint(layout)}`, { cause: err })
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new CheckpointError(`the checkpoint ${path} is not valid JSON; ${repairHint(layout)}`, { cause: err })
  }
  const c = value as Partial<Checkpoint> | null
  if (c === null || typeof c !== 'object' || typeof c.segment !== 'string' || parseSegmentName(c.segment) === undefined ||
      typeof c.offset !== 'number' || !Number.isSafeInteger(c.offset) || c.offset < 0) {
    throw new CheckpointError(`the checkpoint ${path} does not name a segment and a byte offset; ${repairHint(layout)}`)
  }
  return { segment: c.segment, offset: c.offset, updated_at: typeof c.updated_at === 'string' ? c.updated_at : '' }
}

/**
 * Checks a position against the spool. Returns it unchanged when it is sound; throws
 * CheckpointError (exit 78) with the way to repair it otherwise.
 */
export async function validatePosition (layout: DataLayout, position: SpoolPosition): Promise<SpoolPosition> {
  const segments = await listSegments(layout.spool)
  const where = `${position.segment}:${position.offset}`
  if (!segments.some((s) => s.name === position.segment)) {
    // Deleted by retention once fully processed: fine when it is older than all that is left.
    if (segments.every((s) => segmentBefore(position.segment, s.name))) return position
    throw new CheckpointError(`the checkpoint ${where} names a segment that is not in ${layout.spool} and is not older than every segment there; ${repairHint(layout)}`)
  }
  const fh = await openNoFollow(join(layout.spool, position.segment))
  try {
    const { size } = await fh.stat()
    if (position.offset > size) {
      throw new CheckpointError(`the checkpoint ${where} is past the end of its segment (${size} bytes); ${repairHint(layout)}`)
    }
    if (position.offset > 0) {
      const byte = Buffer.alloc(1)
      await fh.read(byte, 0, 1, position.offset - 1)
      if (byte[0] !== 0x0a) {
        throw new CheckpointError(`the checkpoint ${where} is not at the start of a line; ${repairHint(layout)}`)
      }
    }
  } finally {
    await fh.close()
  }
  return position
}

/** The checked checkpoint, or undefined when there is none yet (start at the first segment). */
export async function loadCheckpoint (layout: DataLayout): Promise<Checkpoint | undefined> {
  const checkpoint = await readCheckpoint(layout)
  if (checkpoint === undefined) return undefined
  await validatePosition(layout, checkpoint)
  return checkpoint
}

/** Writes the checkpoint atomically and durably. */
export async function saveCheckpoint (layout: DataLayout, position: SpoolPosition, now = new Date()): Promise<Checkpoint> {
  const checkpoint: Checkpoint = { segment: position.segment, offset: position.offset, updated_at: now.toISOString() }
  await ensureDir(layout.state)
  await writeFileDurably(layout.checkpoint, JSON.stringify(checkpoint) + '\n')
  return checkpoint
}
