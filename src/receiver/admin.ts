/**
 * The admin endpoint, on its own port (`--admin-port`, bound to 127.0.0.1 by default) so that the
 * callback port keeps treating every path as a callback and never exposes figures to the internet.
 *
 *   /healthz  200 while the process runs
 *   /readyz   200 when the spool directory is writable and free disk is above the floor, else 503
 *   /metrics  Prometheus text exposition
 */
import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { freeBytes } from '../fs/disk.js'
import { PROMETHEUS_CONTENT_TYPE } from '../metrics/prometheus.js'
import { formatBytes } from '../units.js'
import { DEFAULT_MIN_FREE_BYTES } from './defaults.js'

export interface AdminOptions {
  spoolDir: string
  /** /readyz fails below this much free disk. @default 1 GiB */
  minFreeBytes?: number
  /** Renders /metrics. */
  renderMetrics: () => Promise<string>
  logger: Logger
}

export interface Readiness {
  ready: boolean
  reason: string
}

/** Whether the receiver can take callbacks now; the reason is one short line either way. */
export async function checkReadiness (spoolDir: string, minFreeBytes: number): Promise<Readiness> {
  try {
    await access(spoolDir, constants.W_OK)
  } catch (err) {
    return { ready: false, reason: `spool directory not writable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }
  }
  let free: number
  try {
    free = await freeBytes(spoolDir)
  } catch (err) {
    return { ready: false, reason: `cannot measure free disk: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }
  }
  if (free < minFreeBytes) {
    return { ready: false, reason: `free disk ${formatBytes(free)} is under --min-free ${formatBytes(minFreeBytes)}` }
  }
  return { ready: true, reason: `ready: free disk ${formatBytes(free)}` }
}

/** Builds the admin server without listening. */
export function createAdminServer (options: AdminOptions): Server {
  const minFree = options.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES
  const text = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers })
    res.end(res.req.method === 'HEAD' ? undefined : body)
  }

  return createServer((req, res) => {
    req.resume()
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      text(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' })
      return
    }
    const path = (req.url ?? '/').split('?')[0]
    const respond = async (): Promise<void> => {
      switch (path) {
        case '/healthz':
          text(res, 200, 'ok\n')
          return
        case '/readyz': {
          const r = await checkReadiness(options.spoolDir, minFree)
          text(res, r.ready ? 200 : 503, `${r.reason}\n`)
          return
        }
        case '/metrics':
          text(res, 200, await options.renderMetrics(), { 'Content-Type': PROMETHEUS_CONTENT_TYPE })
          return
        default:
          text(res, 404, 'not found: try /healthz, /readyz or /metrics\n')
      }
    }
    respond().catch((err: unknown) => {
      options.logger.error({ err, path }, 'admin endpoint failed')
      if (!res.headersSent) text(res, 500, 'internal error\n')
      else res.destroy()
    })
  })
}
