/**
 * What the receiver checks before it says "listening": that it can create files in its data dir,
 * and, when the address cannot be had, an error that names the cause and the next step.
 */
import { open, unlink } from 'node:fs/promises'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { DataDirNotWritableError, ListenError } from '../errors.js'
import { ensureDir } from '../fs/durable.js'
import type { DataLayout } from '../spool/layout.js'

/**
 * Creates the data dir and spool/ if need be, then a file in spool/ (removed at once). A full disk
 * passes: the receiver then answers 503 until there is room. Anything else that stops it writing
 * (permissions, a read-only mount) is an error: answering 503 for ever helps no one.
 */
export async function checkDataDirWritable (layout: DataLayout): Promise<void> {
  try {
    // The root first: on a read-only mount, mkdir -p of spool/ would report ENOENT, not EROFS.
    await ensureDir(layout.root)
    await createAndRemove(join(layout.root, `.write-check-${process.pid}`))
    await ensureDir(layout.spool)
    await createAndRemove(join(layout.spool, `.write-check-${process.pid}`))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOSPC' || code === 'EDQUOT') return
    if (code === 'EACCES' || code === 'EPERM') {
      throw new DataDirNotWritableError(`cannot write the data dir ${layout.root} as user ${currentUser()} (${code}): ` +
        'give this user write access to it (chown -R), or choose another --data-dir', { cause: err, exitCode: 77 })
    }
    const cause = code === 'EROFS'
      ? 'it is on a read-only file system'
      : code === 'EEXIST' || code === 'ENOTDIR' ? 'a file stands where a directory should be' : (err as Error).message
    throw new DataDirNotWritableError(`cannot create files in the data dir ${layout.root}: ${cause}` +
      `${code === undefined ? '' : ` (${code})`}; fix that, or choose another --data-dir`, { cause: err, exitCode: 73 })
  }
}

async function createAndRemove (path: string): Promise<void> {
  await (await open(path, 'wx')).close()
  await unlink(path)
}

function currentUser (): string {
  try {
    return userInfo().username
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`
  }
}

/** `listen` failed: what the operator should know, with `flags` the options that set the address. */
export function listenError (err: unknown, host: string | undefined, port: number, flags: { host: string, port: string }): Error {
  const code = (err as NodeJS.ErrnoException).code
  const where = `${host === undefined ? 'port' : `${host.includes(':') ? `[${host}]` : host}:`}${port}`
  const options = { cause: err }
  switch (code) {
    case 'EADDRINUSE':
      return new ListenError(`cannot listen on ${where}: another program uses that port (EADDRINUSE); ` +
        `stop it (\`ss -ltnp 'sport = :${port}'\` shows which) or choose another ${flags.port}`, { ...options, exitCode: 69 })
    case 'EADDRNOTAVAIL':
      return new ListenError(`cannot listen on ${where}: no such address on this machine (EADDRNOTAVAIL); ` +
        `check ${flags.host}, or start once the network is up`, { ...options, exitCode: 69 })
    case 'EACCES':
    case 'EPERM':
      return new ListenError(`cannot listen on ${where}: this user may not bind that port (${code}); ` +
        'use a port above 1023 behind a proxy, or grant CAP_NET_BIND_SERVICE', { ...options, exitCode: 77 })
    default:
      return err as Error
  }
}
