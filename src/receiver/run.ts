/** `callback-spool receive`: lock the data dir, open the spool, listen, and stop cleanly. */
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import { acquireLock } from '../spool/lock.js'
import { SpoolWriter, type Durability } from '../spool/writer.js'
import { createReceiver, type Receiver } from './server.js'
import { createAccessControl, type AccessOptions } from './access.js'
import { describeAccess } from './access-config.js'

export interface ReceiveOptions {
  host?: string
  /** @default 8080 */
  port: number
  /** @default './data' */
  dataDir: string
  maxBodyBytes: number
  durability: Durability
  rotateBytes: number
  rotateAgeMs: number
  requestTimeoutMs: number
  maxConnections: number
  /** Token, basic auth, allowlist, proxies, signatures. @default none */
  access?: AccessOptions
}

export const RECEIVE_DEFAULTS: ReceiveOptions = {
  port: 8080,
  dataDir: './data',
  maxBodyBytes: 64 * 1024,
  durability: 'fsync',
  rotateBytes: 64 * 1024 * 1024,
  rotateAgeMs: 60 * 60 * 1000,
  requestTimeoutMs: 10_000,
  maxConnections: 1024,
}

export interface RunningReceiver {
  server: Receiver
  writer: SpoolWriter
  address: AddressInfo
  /** Stop accepting, answer what is in flight once it is durable, release the lock. */
  stop (graceMs?: number): Promise<void>
}

export async function startReceiver (options: ReceiveOptions, logger: Logger): Promise<RunningReceiver> {
  const log = logger.child({ component: 'receiver' })
  const lock = await acquireLock(options.dataDir, 'receiver')
  let writer: SpoolWriter
  try {
    writer = await SpoolWriter.open({
      dataDir: options.dataDir,
      durability: options.durability,
      rotateBytes: options.rotateBytes,
      rotateAgeMs: options.rotateAgeMs,
      logger: log,
    })
  } catch (err) {
    await lock.release()
    throw err
  }
  const server = createReceiver({
    spool: writer,
    logger: log,
    maxBodyBytes: options.maxBodyBytes,
    requestTimeoutMs: options.requestTimeoutMs,
    maxConnections: options.maxConnections,
    access: createAccessControl(options.access ?? {}),
  })
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ port: options.port, host: options.host }, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (err) {
    await writer.close()
    await lock.release()
    throw err
  }
  const address = server.address() as AddressInfo
  log.info({ access: describeAccess(options.access ?? {}) }, 'access control')
  log.info({ address: address.address, port: address.port, data_dir: writer.layout.root, durability: options.durability },
    `listening on http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}, spooling to ${writer.layout.spool}`)

  let stopping: Promise<void> | undefined
  const stop = (graceMs = 4000): Promise<void> => {
    stopping ??= (async () => {
      log.info('stopping: no new connections; answering the requests in flight')
      server.close()
      server.closeIdleConnections()
      const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref())
      await Promise.race([server.drained(), grace])
      server.closeAllConnections()
      await writer.close()
      await lock.release()
      log.info({ records: writer.stats.records }, 'stopped')
    })()
    return stopping
  }
  return { server, writer, address, stop }
}
