/** `callback-spool receive`: lock the data dir, open the spool, listen, and stop cleanly. */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import { acquireLock } from '../spool/lock.js'
import { SpoolWriter, type Durability } from '../spool/writer.js'
import { createAdminServer } from './admin.js'
import { startAnswersFile } from './answers-file.js'
import { RECEIVE_DEFAULTS } from './defaults.js'
import { createReceiverMetrics } from './metrics.js'
import { createReceiver, type Receiver } from './server.js'
import { createAccessControl, type AccessOptions } from './access.js'
import { describeAccess } from './access-config.js'
import { checkDataDirWritable, listenError } from './start-checks.js'
import { dataLayout } from '../spool/layout.js'
import { PathBindings, type PathBinding } from '../providers/bindings.js'

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
  /** @default maxConnections */
  maxConnectionsPerAddress?: number
  /** @default 2000 */
  firstByteTimeoutMs?: number
  /** Token, basic auth, allowlist, proxies, signatures. @default none */
  access?: AccessOptions
  /** `--provider-path`: a bound path's provider wins over the request's shape. @default none */
  providerPaths?: readonly PathBinding[]
  /** Port of the admin endpoint (/healthz, /readyz, /metrics); off when undefined. */
  adminPort?: number
  /** @default '127.0.0.1' */
  adminHost?: string
  /** /readyz fails below this much free disk. @default 1 GiB */
  minFreeBytes?: number
}

export { RECEIVE_DEFAULTS }

export interface RunningReceiver {
  server: Receiver
  writer: SpoolWriter
  address: AddressInfo
  /** The admin endpoint and its address, when --admin-port is given. */
  admin?: { server: Server, address: AddressInfo }
  /** Stop accepting, answer what is in flight once it is durable, release the lock. */
  stop (graceMs?: number): Promise<void>
}

export async function startReceiver (options: ReceiveOptions, logger: Logger): Promise<RunningReceiver> {
  const log = logger.child({ component: 'receiver' })
  const layout = dataLayout(options.dataDir)
  await checkDataDirWritable(layout)
  const lock = await acquireLock(layout, 'receiver')
  let writer: SpoolWriter
  try {
    writer = await SpoolWriter.open({
      layout,
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
    maxConnectionsPerAddress: options.maxConnectionsPerAddress,
    firstByteTimeoutMs: options.firstByteTimeoutMs,
    access: createAccessControl(options.access ?? {}),
    bindings: new PathBindings(options.providerPaths),
  })
  let admin: RunningReceiver['admin']
  try {
    await listen(server, options.port, options.host)
      .catch((err: unknown) => { throw listenError(err, options.host, options.port, { host: '--host', port: '--port' }) })
    if (options.adminPort !== undefined) {
      const metrics = createReceiverMetrics({ server: server.stats, writer: writer.stats, spoolDir: writer.layout.spool, logger: log })
      const adminServer = createAdminServer({
        spoolDir: writer.layout.spool,
        minFreeBytes: options.minFreeBytes,
        renderMetrics: metrics.render,
        logger: log,
      })
      const adminHost = options.adminHost ?? RECEIVE_DEFAULTS.adminHost
      await listen(adminServer, options.adminPort, adminHost)
        .catch((err: unknown) => { throw listenError(err, adminHost, options.adminPort!, { host: '--admin-host', port: '--admin-port' }) })
      admin = { server: adminServer, address: adminServer.address() as AddressInfo }
      log.info({ address: admin.address.address, port: admin.address.port },
        `admin endpoint on http://${hostPort(admin.address)}: /healthz, /readyz, /metrics`)
    }
  } catch (err) {
    server.close()
    await writer.close()
    await lock.release()
    throw err
  }
  const address = server.address() as AddressInfo
  const answers = startAnswersFile(layout, server.stats, log)
  log.info({ access: describeAccess(options.access ?? {}), provider_paths: (options.providerPaths ?? []).map((b) => `${b.prefix}=${b.profile.name}`) }, 'access control')
  const verified = new Set((options.access?.signatures ?? []).map((s) => s.scheme))
  for (const { prefix, profile } of options.providerPaths ?? []) {
    // A binding admits its path's requests unsigned when the provider has no secret: say so when it could have one.
    if (profile.signature !== undefined && !verified.has(profile.name)) {
      log.warn({ provider_path: `${prefix}=${profile.name}` }, `${profile.name} signs its requests, but ${profile.signature.option} is not set: the requests to ${prefix} are not verified`)
    }
  }
  log.info({ address: address.address, port: address.port, data_dir: writer.layout.root, durability: options.durability },
    `listening on http://${hostPort(address)}, spooling to ${writer.layout.spool}`)

  let stopping: Promise<void> | undefined
  const stop = (graceMs = 4000): Promise<void> => {
    stopping ??= (async () => {
      log.info('stopping: no new connections; answering the requests in flight')
      server.close()
      server.closeIdleConnections()
      const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref())
      await Promise.race([server.drained(), grace])
      server.closeAllConnections()
      await answers.stop()
      await writer.close()
      await lock.release()
      if (admin !== undefined) {
        admin.server.close()
        admin.server.closeAllConnections()
      }
      log.info({ records: writer.stats.records }, 'stopped')
    })()
    return stopping
  }
  return { server, writer, address, admin, stop }
}

function listen (server: Server, port: number, host: string | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host }, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

function hostPort (a: AddressInfo): string {
  return `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`
}
