/**
 * The receiver's defaults, apart from its implementation: the CLI needs them to define the
 * options of every command, and should not load the HTTP server to do so.
 */
import type { ReceiveOptions } from './run.js'
import { DEFAULT_DATA_DIR } from '../spool/layout.js'
import { DEFAULT_DURABILITY, DEFAULT_ROTATE_AGE_MS, DEFAULT_ROTATE_BYTES } from '../spool/writer-defaults.js'

/** /readyz fails below this much free disk. */
export const DEFAULT_MIN_FREE_BYTES = 1024 ** 3
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000
export const DEFAULT_MAX_CONNECTIONS = 1024
/** Real senders write their request as soon as they connect. */
export const DEFAULT_FIRST_BYTE_TIMEOUT_MS = 2000
/** Retry-After of a 503: soon enough for a sender to come back once the disk has room again. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5

export const RECEIVE_DEFAULTS = {
  port: 8080,
  dataDir: DEFAULT_DATA_DIR,
  maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  durability: DEFAULT_DURABILITY,
  rotateBytes: DEFAULT_ROTATE_BYTES,
  rotateAgeMs: DEFAULT_ROTATE_AGE_MS,
  requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  firstByteTimeoutMs: DEFAULT_FIRST_BYTE_TIMEOUT_MS,
  adminHost: '127.0.0.1',
  minFreeBytes: DEFAULT_MIN_FREE_BYTES,
} satisfies ReceiveOptions
