/** Small durable-file helpers shared by the writer, the checkpoint and the tools. */
import { mkdir, open, readdir, rename, chmod, stat, unlink, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { NoInputError } from '../errors.js'
import { isPermissionDenied, permissionError } from '../permission.js'
import { dataLayout, parseSegmentName, type SegmentName } from './layout.js'

export const FILE_MODE = 0o640
export const DIR_MODE = 0o750

/** mkdir -p with mode 0750 (the umask cannot widen it, and an existing dir keeps its mode). */
export async function ensureDir (path: string): Promise<void> {
  const first = await mkdir(path, { recursive: true, mode: DIR_MODE })
  if (first === undefined) return
  await chmod(path, DIR_MODE)
  // A new directory's entry lives in its parent: fsync each parent, from the deepest created
  // directory up to the one above the first, or a power loss could take the new spool/ with it.
  const top = dirname(first)
  for (let dir = path; ; dir = dirname(dir)) {
    const parent = dirname(dir)
    await fsyncDir(parent)
    if (parent === top || parent === dir) break
  }
}

/** fsync a directory, so that a file created or renamed in it survives a power loss (beats #3537). */
export async function fsyncDir (path: string): Promise<void> {
  const fh = await open(path, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/**
 * Replace `path` atomically and durably: temp file, fsync, rename, fsync of the directory.
 * A reader sees the old content or the new, never a mix or an empty file.
 */
export async function writeFileDurably (path: string, data: string | Buffer): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`)
  const fh = await open(tmp, 'w', FILE_MODE)
  try {
    await fh.chmod(FILE_MODE)
    await fh.writeFile(data)
    await fh.sync()
  } catch (err) {
    await fh.close().catch(() => {})
    await unlink(tmp).catch(() => {})
    throw err
  }
  await fh.close()
  await rename(tmp, path)
  await fsyncDir(dirname(path))
}

/**
 * The `*.ndjson` files of a directory (dead letters, re-queue, outputs), as full paths in name
 * order; none when it does not exist. Dot-files (temp files being written) are not listed.
 */
export async function listNdjsonFiles (dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => n.endsWith('.ndjson') && !n.startsWith('.')).sort().map((n) => join(dir, n))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
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

/**
 * The data dir's absolute path. It must exist and be a directory (empty is fine: the receiver
 * fills it); NoInputError (exit 66) otherwise, rather than creating it: a mistyped --data-dir
 * must not look like an empty spool. Only the receiver creates a data dir.
 */
export async function existingDataDir (dataDir: string): Promise<string> {
  const root = dataLayout(dataDir).root
  let isDir: boolean
  try {
    isDir = (await stat(root)).isDirectory()
  } catch (err) {
    if (isPermissionDenied(err)) throw permissionError(err, root)
    throw new NoInputError('SPOOL_ERR_NO_DATA_DIR', `no data directory at ${root}: check --data-dir (or CALLBACK_SPOOL_DATA_DIR); \`callback-spool receive\` creates it`)
  }
  if (!isDir) throw new NoInputError('SPOOL_ERR_NOT_DATA_DIR', `${root} is not a directory, so not a data directory: check --data-dir (or CALLBACK_SPOOL_DATA_DIR)`)
  return root
}

/** Writes the first `length` bytes of `data` at the file's position, finishing short writes (a disk filling up). */
export async function writeFully (fh: FileHandle, data: Buffer, length = data.length): Promise<void> {
  let written = 0
  while (written < length) written += (await fh.write(data, written, length - written)).bytesWritten
}

/** Deletes a file; one already gone is fine. */
export async function unlinkIfExists (path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err })
}
