/**
 * Keeps a flood of idle connections from locking real callbacks out, as nginx and HAProxy do.
 *
 * - A connection that has sent nothing within `firstByteTimeoutMs` is closed.
 * - At `maxConnections` (or `maxPerAddress` from one peer address), a new connection closes the
 *   connection idle the longest instead of being refused: idle means open with no request in
 *   progress and no byte of a next one (new, or kept alive between requests). It is refused only
 *   when every connection it could close has a request in progress.
 *
 * So a client holding idle sockets and reopening them as they close only ever takes slots
 * nobody else needs: a real callback takes the oldest idle one, and has sent its request
 * before it could itself be the oldest.
 */
import type { Socket } from 'node:net'

export interface ConnectionLimits {
  /** Connections open at once. @default 1024 */
  maxConnections: number
  /** Connections open at once from one peer address (a proxy counts as one). @default maxConnections */
  maxPerAddress: number
  /** A connection that has sent nothing for this long is closed. @default 2000 */
  firstByteTimeoutMs: number
}

export interface ConnectionStats {
  /** Idle connections closed to make room for a new one. */
  evicted: number
  /** New connections refused: every slot had a request in progress. */
  refused: number
}

interface Tracked {
  socket: Socket
  address: string
  /** Requests received and not yet answered. */
  requests: number
  /** socket.bytesRead when it last became idle: more means a next request has begun. */
  bytesAtIdle: number
  timer: NodeJS.Timeout
}

export interface ConnectionGuard {
  readonly stats: ConnectionStats
  /** A new connection: closes an idle one to make room, or refuses (destroys) this one. */
  admit (socket: Socket): void
  /** A request arrived on the connection (headers complete). */
  requestStarted (socket: Socket): void
  /** That request's answer is sent, or its response closed. */
  requestEnded (socket: Socket): void
}

export function createConnectionGuard (limits: ConnectionLimits): ConnectionGuard {
  const bySocket = new Map<Socket, Tracked>()
  /** Idle candidates, longest idle first (a Set keeps insertion order). */
  const idle = new Set<Tracked>()
  const perAddress = new Map<string, number>()
  const stats: ConnectionStats = { evicted: 0, refused: 0 }

  const forget = (t: Tracked): void => {
    if (!bySocket.delete(t.socket)) return
    idle.delete(t)
    clearTimeout(t.timer)
    const n = perAddress.get(t.address)! - 1
    if (n === 0) perAddress.delete(t.address)
    else perAddress.set(t.address, n)
  }

  /** Closes the connection idle the longest (of `address` when given); false when none is idle. */
  const evictIdlest = (address?: string): boolean => {
    for (const t of idle) {
      if (address !== undefined && t.address !== address) continue
      if (t.requests > 0 || t.socket.bytesRead !== t.bytesAtIdle) continue
      forget(t)
      t.socket.destroy()
      stats.evicted++
      return true
    }
    return false
  }

  return {
    stats,
    admit (socket: Socket): void {
      const address = socket.remoteAddress ?? ''
      const full = ((perAddress.get(address) ?? 0) >= limits.maxPerAddress && !evictIdlest(address)) ||
        (bySocket.size >= limits.maxConnections && !evictIdlest())
      if (full) {
        stats.refused++
        socket.destroy()
        return
      }
      const timer = setTimeout(() => {
        if (socket.bytesRead === 0) socket.destroy()
      }, limits.firstByteTimeoutMs)
      timer.unref()
      const t: Tracked = { socket, address, requests: 0, bytesAtIdle: 0, timer }
      bySocket.set(socket, t)
      idle.add(t)
      perAddress.set(address, (perAddress.get(address) ?? 0) + 1)
      socket.once('close', () => forget(t))
    },
    requestStarted (socket: Socket): void {
      const t = bySocket.get(socket)
      if (t === undefined) return
      t.requests++
      idle.delete(t)
    },
    requestEnded (socket: Socket): void {
      const t = bySocket.get(socket)
      if (t === undefined || --t.requests > 0) return
      t.bytesAtIdle = socket.bytesRead
      // To the end: idle from now, the last to be closed.
      idle.delete(t)
      idle.add(t)
    },
  }
}
