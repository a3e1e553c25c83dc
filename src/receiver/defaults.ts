/**
 * The receiver's defaults, apart from its implementation: the CLI needs them to define the
 * options of every command, and should not load the HTTP server to do so.
 */
import type { ReceiveOptions } from './run.js'
import { DEFAULT_DATA_DIR } from '../spool/layout.js'

/** /readyz fails below this much free disk. */
export const DEFAULT_MIN_FREE_BYTES = 1024 ** 3

export const RECEIVE_DEFAULTS: ReceiveOptions = {
  port: 8080,
  dataDir: DEFAULT_DATA_DIR,
  maxBodyBytes: 64 * 1024,
  durability: 'fsync',
  rotateBytes: 64 * 1024 * 1024,
  rotateAgeMs: 60 * 60 * 1000,
  requestTimeoutMs: 10_000,
  maxConnections: 1024,
  adminHost: '127.0.0.1',
  minFreeBytes: DEFAULT_MIN_FREE_BYTES,
}
