/**
 * The `receive` command's raw options (flags, env or config file) checked and converted into
 * ReceiveOptions. Loaded by the command's action and by `callback-spool config`, not by the
 * definition of the command line: the access checks need the CIDR and signature code.
 */
import { checkAll } from '../config.js'
import { HOUR_MS, parseBytes, parseDuration, parsePort, parsePositiveInt } from '../units.js'
import { parseAccessOptions } from './access-config.js'
import { parsePathBindings } from '../providers/bindings.js'
import { PROFILES } from '../providers/index.js'
import type { ReceiveOptions } from './run.js'

/** Checks and converts the receive command's raw options (flags, env or config file). */
export function receiveOptionsFrom (opts: Record<string, string>): ReceiveOptions {
  return checkAll<ReceiveOptions>({
    host: () => opts.host,
    port: () => parsePort('--port', opts.port!),
    dataDir: () => opts.dataDir!,
    maxBodyBytes: () => parseBytes('--max-body', opts.maxBody!, { max: 64 * 1024 ** 2 }),
    durability: () => opts.durability as 'fsync' | 'os',
    rotateBytes: () => parseBytes('--rotate-bytes', opts.rotateBytes!),
    rotateAgeMs: () => parseDuration('--rotate-age', opts.rotateAge!),
    requestTimeoutMs: () => parseDuration('--request-timeout', opts.requestTimeout!, { max: HOUR_MS }),
    maxConnections: () => parsePositiveInt('--max-connections', opts.maxConnections!, { max: 1_000_000 }),
    maxConnectionsPerAddress: () => opts.maxConnectionsPerAddress === undefined
      ? undefined
      : parsePositiveInt('--max-connections-per-address', opts.maxConnectionsPerAddress, { max: 1_000_000 }),
    firstByteTimeoutMs: () => parseDuration('--first-byte-timeout', opts.firstByteTimeout!, { max: HOUR_MS }),
    adminPort: () => opts.adminPort === undefined ? undefined : parsePort('--admin-port', opts.adminPort),
    adminHost: () => opts.adminHost,
    minFreeBytes: () => parseBytes('--min-free', opts.minFree!),
    access: () => parseAccessOptions(opts),
    providerPaths: () => parsePathBindings(opts.providerPath, PROFILES),
  })
}
