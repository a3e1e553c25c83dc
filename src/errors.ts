/**
 * Coded errors, in the manner of undici and fastify: tests and callers look at `code`,
 * people read `message`, and the original error is kept as `cause`.
 */

/**
 * Every error code, with the exit codes the CLI may end with when an error of that code reaches
 * it. The one list: a code not in it does not type-check, and the README's error table lists each
 * (test/core/errors.codes.test.ts). An internal code (never reaching the CLI) has the exit code 1 of an
 * unexpected error.
 */
export const ERROR_CODES = {
  SPOOL_ERR_USAGE: [64],
  SPOOL_ERR_CONFIG: [78],
  SPOOL_ERR_NO_DATA_DIR: [66],
  SPOOL_ERR_NOT_DATA_DIR: [66],
  SPOOL_ERR_NO_SPOOL: [66],
  SPOOL_ERR_LOCKED: [75],
  SPOOL_ERR_LOCK_FILE: [71, 77],
  SPOOL_ERR_WRITE: [74],
  SPOOL_ERR_CLOSED: [1],
  SPOOL_ERR_CHECKPOINT_CORRUPT: [78],
  SPOOL_ERR_LISTEN: [69, 77],
  SPOOL_ERR_LINK: [78],
  SPOOL_ERR_PERMISSION: [77],
  SPOOL_ERR_DATA_DIR_NOT_WRITABLE: [73, 77],
  SPOOL_ERR_BODY_TOO_LARGE: [1],
  SPOOL_ERR_BODY_ABORTED: [1],
  SPOOL_ERR_CANCELLED: [1],
  SPOOL_ERR_NOT_FOUND: [1],
  SPOOL_ERR_UNAVAILABLE: [69]
} as const satisfies Record<string, readonly number[]>

export type ErrorCode = keyof typeof ERROR_CODES

export class CallbackSpoolError extends Error {
  readonly code: ErrorCode
  /** Process exit code the CLI uses when this error reaches it. */
  readonly exitCode: number

  constructor (code: ErrorCode, message: string, options: { cause?: unknown, exitCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.exitCode = options.exitCode ?? 1
  }
}

/** EX_USAGE (64): the command line is wrong. */
export class UsageError extends CallbackSpoolError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super('SPOOL_ERR_USAGE', message, { ...options, exitCode: 64 })
  }
}

/** EX_CONFIG (78): an option value or config file is wrong. */
export class ConfigError extends CallbackSpoolError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super('SPOOL_ERR_CONFIG', message, { ...options, exitCode: 78 })
  }
}

/** EX_NOINPUT (66): the data dir (or the spool in it) is not there; nothing is created in its place. */
export class NoInputError extends CallbackSpoolError {
  constructor (code: 'SPOOL_ERR_NO_DATA_DIR' | 'SPOOL_ERR_NOT_DATA_DIR' | 'SPOOL_ERR_NO_SPOOL', message: string) {
    super(code, message, { exitCode: 66 })
  }
}

/**
 * Another process holds the lock on this data dir for this role (EX_TEMPFAIL, 75). `doing` is what
 * a tool was about to do (`replay`, `purge`): it must wait for the processor to stop, where a
 * second service may instead use another data dir.
 */
export class LockHeldError extends CallbackSpoolError {
  readonly holder: string
  constructor (role: string, dataDir: string, holder: string, doing?: string) {
    super('SPOOL_ERR_LOCKED', doing === undefined
      ? `another ${role} is already running on ${dataDir} (${holder}); stop it first, or use another --data-dir`
      : `a ${role} is running on ${dataDir} (${holder}); stop it before you ${doing} (e.g. systemctl stop callback-spool-follow), then start it again`, { exitCode: 75 })
    this.holder = holder
  }
}

/** The spool could not be written or synced; the request must not be acknowledged. */
export class SpoolWriteError extends CallbackSpoolError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super('SPOOL_ERR_WRITE', message, { ...options, exitCode: 74 })
  }
}

/** The receiver is shutting down and takes no more records. */
export class SpoolClosedError extends CallbackSpoolError {
  constructor () {
    super('SPOOL_ERR_CLOSED', 'the spool writer is closed')
  }
}

/** The checkpoint file does not match the spool. */
export class CheckpointError extends CallbackSpoolError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super('SPOOL_ERR_CHECKPOINT_CORRUPT', message, { ...options, exitCode: 78 })
  }
}

/**
 * The lock file could not be opened or locked (EX_NOPERM, 77, when it belongs to another user;
 * EX_OSERR, 71, otherwise, e.g. no `flock` program).
 */
export class LockFileError extends CallbackSpoolError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    const code = (options.cause as NodeJS.ErrnoException | undefined)?.code
    super('SPOOL_ERR_LOCK_FILE', message, { ...options, exitCode: code === 'EACCES' || code === 'EPERM' ? 77 : 71 })
  }
}

/**
 * The receiver cannot listen on its address. EX_UNAVAILABLE (69) for a port taken or an address
 * not (yet) on this machine: the settings may be right and the fault outside, so a supervisor's
 * restart may succeed later (unlike 78, which stops `up` and the units). EX_NOPERM (77) for a port
 * this user may not bind.
 */
export class ListenError extends CallbackSpoolError {
  constructor (message: string, options: { cause?: unknown, exitCode: 69 | 77 }) {
    super('SPOOL_ERR_LISTEN', message, options)
  }
}

/**
 * An entry of the data dir (or the metrics file's temp name) is a symbolic link: it is never
 * followed, since whoever planted it would choose what the service writes or reads (EX_CONFIG, 78).
 */
export class LinkRefusedError extends CallbackSpoolError {
  readonly path: string
  constructor (path: string, target: string | undefined, options: { cause?: unknown } = {}) {
    super('SPOOL_ERR_LINK', `${path} is a symbolic link${target === undefined ? '' : ` (to ${target})`}; links in the data dir are never followed: replace it with the real file or directory`, { ...options, exitCode: 78 })
    this.path = path
  }
}

/**
 * EX_NOPERM (77): this user may not read or write a file of the data dir. Never reported as a
 * corrupt file: the file is fine, the user is not the right one.
 */
export class PermissionError extends CallbackSpoolError {
  readonly path: string | undefined
  constructor (message: string, options: { cause?: unknown, path?: string } = {}) {
    super('SPOOL_ERR_PERMISSION', message, { cause: options.cause, exitCode: 77 })
    this.path = options.path
  }
}

/**
 * The receiver cannot write its data dir at start: EX_NOPERM (77) for permissions, EX_CANTCREAT
 * (73) otherwise (read-only file system, a file where a directory should be).
 */
export class DataDirNotWritableError extends CallbackSpoolError {
  constructor (message: string, options: { cause?: unknown, exitCode: 73 | 77 }) {
    super('SPOOL_ERR_DATA_DIR_NOT_WRITABLE', message, options)
  }
}

/** The request body passed `--max-body` (declared or as it arrived): the receiver answers 413. */
export class BodyTooLargeError extends CallbackSpoolError {
  constructor (message: string) {
    super('SPOOL_ERR_BODY_TOO_LARGE', message)
  }
}

/** The client went away before its body was read whole: nothing is spooled, nothing answered. */
export class BodyAbortedError extends CallbackSpoolError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super('SPOOL_ERR_BODY_ABORTED', message, options)
  }
}

/** The person at the terminal answered no to an irreversible command: nothing was changed (exit 1). */
export class CancelledError extends CallbackSpoolError {
  constructor (message: string) {
    super('SPOOL_ERR_CANCELLED', message, { exitCode: 1 })
  }
}

/** What a command was asked to act on is not there (a dead letter's record id): exit 1. */
export class NotFoundError extends CallbackSpoolError {
  constructor (message: string) {
    super('SPOOL_ERR_NOT_FOUND', message, { exitCode: 1 })
  }
}

/** Several bad option values found at once (checkAll): each kept, so the CLI can say where each came from. */
export class ConfigMistakesError extends ConfigError {
  readonly mistakes: ConfigError[]
  constructor (mistakes: ConfigError[]) {
    super(mistakes.map((m) => m.message).join('; '))
    this.mistakes = mistakes
  }
}

/** EX_UNAVAILABLE (69): a server this command needs (the NATS server of `--source`) does not answer. */
export class ServerUnavailableError extends CallbackSpoolError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super('SPOOL_ERR_UNAVAILABLE', message, { ...options, exitCode: 69 })
  }
}
