/**
 * What the receiver answers when Node's HTTP parser gives up on a connection (bytes that are not
 * HTTP, headers too large, a request that timed out).
 *
 * Node's own answer writes its 400 and destroys the socket at once, even while an earlier
 * request on the same connection is still being spooled: that request is then recorded but
 * never acknowledged (a body with a Content-Length lying short, followed by junk, does this).
 * Here the error answer waits until the request in flight has had its own answer.
 */
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'

function statusFor (code: string | undefined): number | undefined {
  switch (code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return undefined
    case 'HPE_HEADER_OVERFLOW':
      return 431
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 408
    default:
      return 400
  }
}

export function answerClientError (err: NodeJS.ErrnoException, socket: Duplex, inFlight: Promise<unknown> | undefined): void {
  const status = statusFor(err.code)
  const respond = (): void => {
    if (status !== undefined && socket.writable && !socket.writableEnded) {
      socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`)
    }
    // Do not wait for the client to read: half-open sockets must not pile up.
    setImmediate(() => socket.destroy())
  }
  if (inFlight === undefined) respond()
  else inFlight.then(respond, respond)
}
