/** Small durable-file helpers shared by the writer, the checkpoint, the handlers and the tools. */
import { constants } from 'node:fs'
import { mkdir, open, readdir, readlink, rename, chmod, unlink, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { crypto } from '../lazy-builtin.js'
import { LinkRefusedError } from '../errors.js'

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
 * Opens a file that must not be a symbolic link (a spool segment, an output, a dead letter, a
 * state file): O_NOFOLLOW, so a link planted in its place is refused with LinkRefusedError
 * rather than followed to a file of someone else's choosing.
 */
export async function openNoFollow (path: string, flags: number = constants.O_RDONLY, mode = FILE_MODE): Promise<FileHandle> {
  try {
    return await open(path, flags | constants.O_NOFOLLOW, mode)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ELOOP') throw err
    throw new LinkRefusedError(path, await readlink(path).catch(() => undefined), { cause: err })
  }
}

/** readFile, refusing a link (see openNoFollow). */
export async function readFileNoFollow (path: string, encoding: BufferEncoding): Promise<string> {
  const fh = await openNoFollow(path)
  try {
    return await fh.readFile(encoding)
  } finally {
    await fh.close()
  }
}

/**
 * Opens a file to append to, never through a link. A file it creates gets its directory fsync'ed
 * before it returns: a power loss after the data's fdatasync could otherwise take the new file's
 * name, and the lines in it, with it.
 */
export async function openForAppend (path: string): Promise<FileHandle> {
  const { O_WRONLY, O_APPEND, O_CREAT, O_EXCL } = constants
  try {
    return await openNoFollow(path, O_WRONLY | O_APPEND)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  let fh: FileHandle
  try {
    fh = await openNoFollow(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL, FILE_MODE)
  } catch (err) {
    // Created meanwhile (or a link planted meanwhile: EEXIST too, refused by the open below).
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return await openNoFollow(path, O_WRONLY | O_APPEND)
    throw err
  }
  try {
    await fsyncDir(dirname(path))
  } catch (err) {
    await fh.close().catch(() => {})
    throw err
  }
  return fh
}

/**
 * A new file beside `path` for its next content, created exclusively under a random name: a
 * predictable name would let whoever can write that directory plant a link there and have us
 * write through it. Dot-named, so directory listings of `*.ndjson` skip it.
 */
export async function createTempBeside (path: string, suffix = 'tmp'): Promise<{ tmp: string, fh: FileHandle }> {
  const { O_WRONLY, O_CREAT, O_EXCL } = constants
  const tmp = join(dirname(path), `.${basename(path)}.${crypto().randomBytes(6).toString('hex')}.${suffix}`)
  const fh = await openNoFollow(tmp, O_WRONLY | O_CREAT | O_EXCL, FILE_MODE)
  return { tmp, fh }
}

/**
 * Replace `path` atomically and durably: temp file, fsync, rename, fsync of the directory.
 * A reader sees the old content or the new, never a mix or an empty file. A link at `path` is
 * replaced, not followed (rename replaces the entry itself).
 */
export async function writeFileDurably (path: string, data: string | Buffer): Promise<void> {
  const { tmp, fh } = await createTempBeside(path)
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
  try {
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
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

/** Writes the first `length` bytes of `data` at the file's position, finishing short writes (a disk filling up). */
export async function writeFully (fh: FileHandle, data: Buffer, length = data.length): Promise<void> {
  let written = 0
  while (written < length) written += (await fh.write(data, written, length - written)).bytesWritten
}

/** Deletes a file; one already gone is fine. */
export async function unlinkIfExists (path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err })
}
