/**
 * The callback endpoint: a bare node:http server whose only job is to record each callback
 * durably and answer with zero bytes.
 *
 * | request                                  | answer                    | spooled |
 * | POST (any path, body, content type)      | 200, Content-Length: 0    | yes     |
 * | GET with a query string                  | 200, Content-Length: 0    | yes     |
 * | GET without a query string, any HEAD     | 200, Content-Length: 0    | no      |
 * | other methods                            | 405 with Allow            | no      |
 * | body over maxBodyBytes                   | 413                       | no      |
 * | spool cannot be written or synced        | 503 with Retry-After      | no      |
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Logger } from 'pino'
import { OPEN_ACCESS, type AccessControl } from './access.js'
import { BodyTooLargeError, readBody } from './body.js'
import { answerClientError } from './client-error.js'
import { debugSummary } from './debug-summary.js'
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONNECTIONS, DEFAULT_REQUEST_TIMEOUT_MS } from './defaults.js'
import { encodeRequest, splitTarget } from './build-record.js'

/** What the receiver needs of the spool: an append that resolves once the line is durable. */
export interface LineAppender {
  /** `alone`: no other line can arrive before this one is answered (one connection is open). */
  append (line: string, alone?: boolean): Promise<void>
}

export interface ReceiverOptions {
  spool: LineAppender
  logger: Logger
  /** @default 65536 */
  maxBodyBytes?: number
  /** Headers and body must arrive within this time. @default 10000 */
  requestTimeoutMs?: number
  /** @default 1024 */
  maxConnections?: number
  /** Seconds a sender is told to wait after a 503. @default 5 */
  retryAfterSeconds?: number
  /** Token, basic auth, allowlist, proxies, signatures (access.ts). @default everyone admitted */
  access?: AccessControl
}

/** Counters for metrics and tests. */
export interface ReceiverStats {
  responses: Map<number, number>
  bytesReceived: number
  recordsSpooled: number
  inFlight: number
}

export interface Receiver extends Server {
  stats: ReceiverStats
  /** Resolves when no request is being handled. */
  drained (): Promise<void>
}

const ALLOW = 'GET, HEAD, POST'
/** Every answer has an empty body; writeHead only reads this object. */
const EMPTY_BODY: Readonly<Record<string, string>> = Object.freeze({ 'Content-Length': '0' })
/** More headers than any provider sends; beyond this a request is refused with 431. */
export const MAX_HEADER_COUNT = 100

export function createReceiver (options: ReceiverOptions): Receiver {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
  const retryAfter = String(options.retryAfterSeconds ?? 5)
  const { spool, logger } = options
  const access = options.access ?? OPEN_ACCESS
  const stats: ReceiverStats = { responses: new Map(), bytesReceived: 0, recordsSpooled: 0, inFlight: 0 }
  let drainWaiters: Array<() => void> = []
  let openConnections = 0
  /** The request being handled on each connection, so a parse error answers only after it. */
  const inFlightBySocket = new WeakMap<object, { req: IncomingMessage, done: Promise<void> }>()

  const answer = (res: ServerResponse, status: number, headers?: Record<string, string>): void => {
    stats.responses.set(status, (stats.responses.get(status) ?? 0) + 1)
    res.writeHead(status, headers === undefined ? EMPTY_BODY : { ...EMPTY_BODY, ...headers })
    res.end()
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Node stops counting at server.maxHeadersCount, so reaching it means "too many".
    if (req.rawHeaders.length / 2 > MAX_HEADER_COUNT) {
      answer(res, 431, { Connection: 'close' })
      return
    }
    const admission = access.admit(req)
    if (!admission.admitted) {
      logger.debug({ status: admission.status, reason: admission.reason, remote_addr: req.socket.remoteAddress }, 'request refused')
      answer(res, admission.status, admission.headers)
      return
    }
    const method = req.method ?? ''
    const url = admission.url
    const q = url.indexOf('?')
    const hasQuery = q !== -1 && q < url.length - 1
    if (method === 'HEAD' || (method === 'GET' && !hasQuery)) {
      req.resume()
      answer(res, 200)
      return
    }
    if (method !== 'POST' && method !== 'GET') {
      req.resume()
      answer(res, 405, { Allow: ALLOW })
      return
    }
    let body: Buffer
    try {
      body = await readBody(req, maxBodyBytes)
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        // Stop reading: the rest of the body is not wanted, so the connection cannot be reused.
        answer(res, 413, { Connection: 'close' })
      } else {
        res.destroy()
      }
      return
    }
    stats.bytesReceived += body.length
    const refused = access.verifyBody(req, admission, body)
    if (refused !== undefined) {
      logger.debug({ status: refused.status, reason: refused.reason, remote_addr: admission.remoteAddr }, 'request refused')
      answer(res, refused.status, refused.headers)
      return
    }
    const line = encodeRequest({
      method,
      url,
      remoteAddr: admission.remoteAddr,
      headers: req.headers,
      body,
    })
    try {
      // With one connection open, nobody else can send a callback until this one is answered.
      await spool.append(line, openConnections === 1)
    } catch (err) {
      logger.error({ err }, 'callback not spooled: answered 503')
      answer(res, 503, { 'Retry-After': retryAfter })
      return
    }
    stats.recordsSpooled++
    answer(res, 200)
    // Parsed again only at debug level, so the hot path pays nothing; numbers are masked.
    if (logger.isLevelEnabled('debug')) logger.debug(debugSummary(splitTarget(url).path, body), 'callback spooled')
  }

  const server = createServer({
    requestTimeout: requestTimeoutMs,
    headersTimeout: requestTimeoutMs,
    // Node checks the two timeouts on this interval; its 30 s default would let a stalled
    // request live far past the limit.
    connectionsCheckingInterval: Math.min(1000, requestTimeoutMs),
    keepAliveTimeout: 5000,
  }, (req, res) => {
    stats.inFlight++
    const done = handle(req, res)
    inFlightBySocket.set(req.socket, { req, done })
    const finished = (): void => {
      stats.inFlight--
      if (stats.inFlight === 0) {
        for (const w of drainWaiters) w()
        drainWaiters = []
      }
    }
    done.then(finished, (err: unknown) => {
      logger.error({ err }, 'unexpected error handling a request')
      if (!res.headersSent) answer(res, 500)
      else res.destroy()
      finished()
    })
  }) as Receiver
  server.on('connection', (socket: Socket) => {
    openConnections++
    socket.once('close', () => { openConnections-- })
  })
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // Wait for the request in flight only when it was complete: the error is about what followed it.
    const inFlight = inFlightBySocket.get(socket)
    answerClientError(err, socket, inFlight?.req.complete === true ? inFlight.done : undefined)
  })
  server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS
  server.maxHeadersCount = MAX_HEADER_COUNT + 1
  server.stats = stats
  server.drained = () => stats.inFlight === 0
    ? Promise.resolve()
    : new Promise<void>((resolve) => { drainWaiters.push(resolve) })
  return server
}
