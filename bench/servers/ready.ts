/** How a bench server says it listens: one JSON line on stdout, as the receiver's log does. */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export function listenAndAnnounce (server: Server, name: string): void {
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo
    process.stdout.write(JSON.stringify({ server: name, pid: process.pid, port }) + '\n')
  })
  const stop = (): void => {
    server.close()
    server.closeAllConnections()
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}
