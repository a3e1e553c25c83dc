/**
 * One owner per role (receiver, processor) per data dir.
 *
 * The lock is flock(2) on `<data-dir>/<role>.lock`, a file created 0600 inside the data dir: only
 * the data dir's owner (and root) can open it, so no other local user can take the lock first,
 * and the kernel drops it the instant its holder dies (SIGKILL, OOM), so a restart takes over at
 * once. Node has no flock(): `flock -n 3` (util-linux, or BusyBox) is run with the file's open
 * descriptor as its fd 3. The lock belongs to the open file description, which the child shares
 * with us: when the child exits, the lock stays with our descriptor until we close it or die.
 * Node opens files close-on-exec, so handlers we spawn never inherit it.
 * The file also says who holds it (pid, process start time, boot id, host), for `status`.
 */
import { constants } from 'node:fs'
import { once } from 'node:events'
import { readFile, stat, type FileHandle } from 'node:fs/promises'
import { hostname } from 'node:os'
import { basename } from 'node:path'
import { childProcess } from '../lazy-builtin.js'
import { LockFileError, LockHeldError } from '../errors.js'
import { ensureDir, openNoFollow, unlinkIfExists } from '../fs/durable.js'
import { refuseLinksInDataDir } from './data-dir.js'
import type { DataLayout } from './layout.js'

export type LockRole = 'receiver' | 'processor'

export interface LockInfo {
  pid: number
  hostname: string
  started_at: string
  /** The holder's start time in clock ticks since boot (/proc/PID/stat), so a reused pid is told apart. */
  pid_start?: string
  boot_id?: string
}

export interface SpoolLock {
  readonly role: LockRole
  release (): Promise<void>
}

/** Who holds a role's lock, as `status` tells it. */
export interface LockHolder {
  running: boolean
  /** The recorded holder is the live process that holds the lock (checked on this host). */
  identified: boolean
  info: LockInfo | undefined
  /** The holder's program and subcommand (no options: they may carry secrets), when identified. */
  command: string | undefined
}

const LOCK_MODE = 0o600
/** How long a start keeps trying while the lock is taken: `status` holds it for a moment to look. */
const ACQUIRE_PATIENCE_MS = 1000
const ACQUIRE_RETRY_MS = 50

/** flock(2) on the descriptor, without waiting: true when taken, false when another holds it. */
async function flockNow (fh: FileHandle, path: string, shared: boolean, spawned?: () => void): Promise<boolean> {
  // In the C locale, flock(1) reads no locale files before it locks (its messages stay in English).
  const child = childProcess().spawn('flock', ['-n', shared ? '-s' : '-x', '3'], { stdio: ['ignore', 'ignore', 'pipe', fh.fd], env: { ...process.env, LC_ALL: 'C' } })
  spawned?.()
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr += c })
  let code: number | null
  try {
    [code] = await once(child, 'close') as [number | null]
  } catch (err) {
    throw new LockFileError(`cannot lock ${path}: the flock program could not run (${(err as Error).message}); install util-linux`, { cause: err })
  }
  if (code === 0) return true
  // flock -n exits 1, silently, when the lock is taken; anything else is a failure to lock.
  if (code === 1 && stderr === '') return false
  throw new LockFileError(`cannot lock ${path}: flock exited ${code ?? 'on a signal'}: ${stderr.trim()}`)
}

async function openLockFile (path: string, create: boolean): Promise<FileHandle> {
  try {
    return await openNoFollow(path, create ? constants.O_RDWR | constants.O_CREAT : constants.O_RDONLY, LOCK_MODE)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EACCES' || code === 'EPERM') {
      throw new LockFileError(`cannot open the lock file ${path}: permission denied; run as the data dir's owner (or remove a lock file another user created)`, { cause: err })
    }
    throw err
  }
}

/** The process's start time (clock ticks since boot, field 22 of /proc/PID/stat), if it can be read. */
async function processStart (pid: number | 'self'): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

async function bootId (): Promise<string | undefined> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => undefined))?.trim()
}

/** What identifies this process beyond its pid and host. */
type Identity = Pick<LockInfo, 'pid_start' | 'boot_id'>

/** This process's identity, read while the lock is being taken. */
async function ownIdentity (): Promise<Identity> {
  const [pidStart, boot] = await Promise.all([processStart('self'), bootId()])
  return { pid_start: pidStart, boot_id: boot }
}

async function writeHolderInfo (fh: FileHandle, identity: Identity): Promise<void> {
  const info: LockInfo = {
    pid: process.pid,
    hostname: hostname(),
    started_at: new Date().toISOString(),
    ...identity,
  }
  try {
    await fh.truncate(0)
    await fh.write(JSON.stringify(info) + '\n', 0)
  } catch {
    // Information only: a full disk must not keep the receiver from starting (it answers 503
    // until there is room). `status` then reports a holder it cannot identify.
  }
}

/**
 * Takes the lock, or returns undefined when another process holds it. `spawned` is called once
 * the flock(1) child is running, for a caller with work to do meanwhile.
 */
export async function tryAcquireLock (layout: DataLayout, role: LockRole, spawned?: () => void): Promise<SpoolLock | undefined> {
  await ensureDir(layout.root)
  // Whoever takes a lock is about to write in the data dir: never through a planted link. Checked
  // while the lock is being taken (its file is opened without following a link), and before the
  // lock is kept; this process's identity is read meanwhile too.
  const linksChecked = refuseLinksInDataDir(layout)
  linksChecked.catch(() => {})
  const identity = ownIdentity()
  const path = layout.locks[role]
  const deadline = Date.now() + ACQUIRE_PATIENCE_MS
  for (;;) {
    const fh = await openLockFile(path, true).catch(async (err: unknown) => {
      // A link planted at the lock's path: said as such.
      await linksChecked
      throw err
    })
    let keep = false
    try {
      const before = await fh.stat()
      if ((before.mode & 0o077) !== 0) {
        // Not made by this code (an older version's information file, say): someone else may
        // have it open. Start afresh; the check below catches a race with another start.
        await unlinkIfExists(path)
        continue
      }
      if (!await flockNow(fh, path, false, spawned)) {
        if (Date.now() >= deadline) {
          await linksChecked
          return undefined
        }
        await new Promise((resolve) => setTimeout(resolve, ACQUIRE_RETRY_MS))
        continue
      }
      // Locked the file that is at the path now, not one removed meanwhile by the start above.
      const now = await stat(path).catch(() => undefined)
      if (now === undefined || now.ino !== before.ino || now.dev !== before.dev) continue
      await linksChecked
      await writeHolderInfo(fh, await identity)
      keep = true
    } finally {
      if (!keep) await fh.close()
    }
    return lockHandle(role, fh)
  }
}

function lockHandle (role: LockRole, fh: FileHandle): SpoolLock {
  let released = false
  return {
    role,
    async release () {
      if (released) return
      released = true
      await fh.truncate(0).catch(() => {})
      // Our descriptor is the last one on the file description: closing it drops the lock.
      await fh.close()
    },
  }
}

/** Takes the lock or throws LockHeldError naming the holder. */
export async function acquireLock (layout: DataLayout, role: LockRole): Promise<SpoolLock> {
  const lock = await tryAcquireLock(layout, role)
  if (lock !== undefined) return lock
  throw new LockHeldError(role, layout.given, describeHolder(await findHolder(layout, role), layout.locks[role]))
}

/** `pid 12 (node callback-spool.js receive) on host since ...`, or why the holder is unknown. */
export function describeHolder (holder: LockHolder, path: string): string {
  const info = holder.info
  if (holder.identified && info !== undefined) {
    return `pid ${info.pid}${holder.command === undefined ? '' : ` (${holder.command})`} on ${info.hostname} since ${info.started_at}`
  }
  const claim = info === undefined ? 'no readable record of the holder' : `not the recorded pid ${info.pid} on ${info.hostname}`
  return `holder unidentified: ${claim}; find it with \`fuser -v ${path}\` as root`
}

/**
 * Whether a process holds the role's lock now: a shared lock taken and dropped at once when it
 * is free (a start meanwhile waits for it). A user who may not open the lock file (the data
 * dir's group) is answered from /proc/locks instead.
 */
export async function isLockHeld (layout: DataLayout, role: LockRole): Promise<boolean> {
  const path = layout.locks[role]
  let fh: FileHandle
  try {
    fh = await openLockFile(path, false)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    if (err instanceof LockFileError) return await listedInProcLocks(path)
    throw err
  }
  try {
    return !await flockNow(fh, path, true)
  } finally {
    await fh.close()
  }
}

/** Whether /proc/locks lists a flock on the file (by device and inode). */
async function listedInProcLocks (path: string): Promise<boolean> {
  const s = await stat(path, { bigint: true })
  const major = ((s.dev >> 8n) & 0xfffn) | ((s.dev >> 32n) & ~0xfffn)
  const minor = (s.dev & 0xffn) | ((s.dev >> 12n) & ~0xffn)
  const id = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${s.ino}`
  const text = await readFile('/proc/locks', 'utf8').catch(() => '')
  return text.split('\n').some((l) => /^\d+: FLOCK /.test(l) && l.split(/\s+/)[5] === id)
}

/** Who holds the role's lock: running or not, and whether the recorded holder is really it. */
export async function findHolder (layout: DataLayout, role: LockRole): Promise<LockHolder> {
  const running = await isLockHeld(layout, role)
  const info = running ? await readLockInfo(layout, role) : undefined
  if (info === undefined || info.hostname !== hostname() || info.boot_id !== await bootId() ||
      info.pid_start === undefined || await processStart(info.pid) !== info.pid_start) {
    return { running, identified: false, info, command: undefined }
  }
  return { running, identified: true, info, command: await commandOf(info.pid) }
}

/** `node callback-spool.js receive`: the program and its words up to the first option. */
async function commandOf (pid: number): Promise<string | undefined> {
  const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
  const words: string[] = []
  for (const arg of raw.split('\0')) {
    if (arg === '' || arg.startsWith('-')) break
    words.push(words.length < 2 ? basename(arg) : arg)
  }
  return words.length === 0 ? undefined : words.join(' ')
}

export async function readLockInfo (layout: DataLayout, role: LockRole): Promise<LockInfo | undefined> {
  try {
    const fh = await openNoFollow(layout.locks[role])
    try {
      const text = await fh.readFile('utf8')
      return text === '' ? undefined : JSON.parse(text) as LockInfo
    } finally {
      await fh.close()
    }
  } catch {
    return undefined
  }
}
