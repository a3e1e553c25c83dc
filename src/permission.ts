/**
 * A file of the data dir this user may not read or write (EACCES, EPERM) becomes one line naming
 * the path, the user, and who may: never "corrupt", never "unexpected".
 */
import { readFileSync, statSync } from 'node:fs'
import { userInfo } from 'node:os'
import { dirname } from 'node:path'
import { PermissionError } from './errors.js'

export function isPermissionDenied (err: unknown): err is NodeJS.ErrnoException {
  const code = (err as NodeJS.ErrnoException | null)?.code
  return code === 'EACCES' || code === 'EPERM'
}

/** The user name of a uid, from /etc/passwd; the number when it is not there. */
function userName (uid: number): string {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , id] = line.split(':')
      if (id === String(uid) && name !== undefined) return name
    }
  } catch {}
  return `uid ${uid}`
}

/** The owner of `path`, or of its nearest parent this user may stat. */
function ownerOf (path: string): string | undefined {
  for (let p = path; ; p = dirname(p)) {
    try {
      return userName(statSync(p).uid)
    } catch {}
    if (dirname(p) === p) return undefined
  }
}

const VERBS: Record<string, string> = { open: 'open', scandir: 'list', opendir: 'list', mkdir: 'create', rename: 'rename', unlink: 'delete', stat: 'look into' }

/** The one-line error for a permission problem on `path` (from the error when not given). */
export function permissionError (err: NodeJS.ErrnoException, path = err.path): PermissionError {
  const me = (() => { try { return userInfo().username } catch { return `uid ${process.getuid?.() ?? '?'}` } })()
  const verb = VERBS[err.syscall ?? ''] ?? 'access'
  const where = path ?? 'a file of the data dir'
  const owner = path === undefined ? undefined : ownerOf(path)
  const who = owner === undefined || owner === me
    ? 'the user that owns the data dir'
    : `${owner} (its owner), e.g. \`sudo -u ${owner} callback-spool ...\`, or as a member of its group`
  return new PermissionError(`permission denied: cannot ${verb} ${where} as ${me}; run the command as ${who}`, { cause: err, path })
}
