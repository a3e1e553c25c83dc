/**
 * One owner per role (receiver, processor) per data dir.
 *
 * The lock is a listening Unix socket in Linux's abstract namespace, named after the data dir's
 * real path. The kernel releases it the instant its process dies, by SIGKILL or power loss, so a
 * restart takes over at once: no stale pid file to judge and no timeout to wait out. A small
 * `<role>.lock` file beside it tells people (and `status`) who holds it; it is information only.
 * Limit: two processes in different network namespaces do not see each other's lock.
 */
import { createHash } from 'node:crypto'
import { createServer, createConnection, type Server } from 'node:net'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { realpath, readFile, unlink } from 'node:fs/promises'
import { LockHeldError } from '../errors.js'
import { ensureDir, writeFileDurably } from './fsutil.js'

export type LockRole = 'receiver' | 'processor'

export interface LockInfo {
  pid: number
  hostname: string
  started_at: string
}

export interface SpoolLock {
  readonly role: LockRole
  release (): Promise<void>
}

async function socketName (dataDir: string, role: LockRole): Promise<string> {
  const real = await realpath(dataDir)
  const hash = createHash('sha256').update(real).digest('hex').slice(0, 32)
  return `\0callback-spool/${role}/${hash}`
}

function lockInfoPath (dataDir: string, role: LockRole): string {
  return join(dataDir, `${role}.lock`)
}

/** Takes the lock, or returns undefined when another process holds it. */
export async function tryAcquireLock (dataDir: string, role: LockRole): Promise<SpoolLock | undefined> {
  await ensureDir(dataDir)
  const path = await socketName(dataDir, role)
  const server: Server = createServer((socket) => socket.destroy())
  const taken = await new Promise<boolean>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve(false)
      else reject(err)
    })
    server.listen({ path, exclusive: true }, () => resolve(true))
  })
  if (!taken) return undefined
  // The lock must not keep a process alive that has nothing else to do.
  server.unref()
  const info: LockInfo = { pid: process.pid, hostname: hostname(), started_at: new Date().toISOString() }
  try {
    await writeFileDurably(lockInfoPath(dataDir, role), JSON.stringify(info) + '\n')
  } catch {
    // The file is information only; a full disk must not keep the receiver from starting (it
    // answers 503 until there is room). Remove a previous holder's file rather than leave it wrong.
    await unlink(lockInfoPath(dataDir, role)).catch(() => {})
  }
  let released = false
  return {
    role,
    async release () {
      if (released) return
      released = true
      await unlink(lockInfoPath(dataDir, role)).catch(() => {})
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Takes the lock or throws LockHeldError naming the holder. */
export async function acquireLock (dataDir: string, role: LockRole): Promise<SpoolLock> {
  const lock = await tryAcquireLock(dataDir, role)
  if (lock !== undefined) return lock
  const info = await readLockInfo(dataDir, role)
  const holder = info === undefined ? 'holder unknown' : `pid ${info.pid} on ${info.hostname} since ${info.started_at}`
  throw new LockHeldError(role, dataDir, holder)
}

/** Whether a live process holds the role's lock now. */
export async function isLockHeld (dataDir: string, role: LockRole): Promise<boolean> {
  let path: string
  try {
    path = await socketName(dataDir, role)
  } catch {
    return false
  }
  return await new Promise<boolean>((resolve) => {
    const socket = createConnection({ path })
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

export async function readLockInfo (dataDir: string, role: LockRole): Promise<LockInfo | undefined> {
  try {
    return JSON.parse(await readFile(lockInfoPath(dataDir, role), 'utf8')) as LockInfo
  } catch {
    return undefined
  }
}
