/**
 * The callback endpoint: a bare node:http server whose only job is to record each callback
 * durably and answer what its provider expects (Octopush: zero bytes; Twilio and Plivo: an empty
 * XML <Response/>): the provider its path is bound to (`--provider-path`), else the one whose
 * shape it has, else Octopush's.
 *
 * | request                                  | answer                    | spooled |
 * | POST (any path, body, content type)      | 200, the provider's answer | yes    |
 * | GET with a query string                  | 200, the provider's answer | yes    |
 * | GET without a query string, any HEAD     | 200, Content-Length: 0    | no      |
 * | other methods                            | 405 with Allow            | no      |
 * | body over maxBodyBytes                   | 413                       | no      |
 * | spool cannot be written or synced        | 503 with Retry-After      | no      |
 *
 * An answer that closes the connection (404, 413, ...) is the last one on it: requests pipelined
 * behind it are neither handled nor spooled, since they could never be answered. A request that
 * expects `100 Continue` gets it only once its token, method and declared length have passed.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Logger } from 'pino'
import { RateLimitedLog } from '../rate-limited-log.js'
import { OPEN_ACCESS, type AccessControl } from './access.js'
import { BodyTooLargeError } from '../errors.js'
import { declaredOverLimit, readBody } from './body.js'
import { answerClientError } from './client-error.js'
import { debugSummary } from './debug-summary.js'
import { createConnectionGuard, type ConnectionStats } from './connection-guard.js'
import { DEFAULT_FIRST_BYTE_TIMEOUT_MS, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONNECTIONS, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_RETRY_AFTER_SECONDS } from './defaults.js'
import { encodeRequest, splitTarget } from './build-record.js'
import { mergeFields, parseBody, parseParams } from './params.js'
import type { PathBindings } from '../providers/bindings.js'
import { FALLBACK_PROFILE, recogniseProvider } from '../providers/index.js'
import type { ProviderAnswer } from '../providers/profile.js'

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
  /** Connections open at once; at the cap a new one closes the longest-idle one (connection-guard.ts). @default 1024 */
  maxConnections?: number
  /** Connections open at once from one peer address. @default maxConnections */
  maxConnectionsPerAddress?: number
  /** A connection that has sent nothing for this long is closed. @default 2000 */
  firstByteTimeoutMs?: number
  /** Seconds a sender is told to wait after a 503. @default 5 */
  retryAfterSeconds?: number
  /** Token, basic auth, allowlist, proxies, signatures (access.ts). @default everyone admitted */
  access?: AccessControl
  /** `--provider-path`: the provider of a bound path, whatever the request's shape. @default none */
  bindings?: PathBindings
}

/** Counters for metrics and tests. */
export interface ReceiverStats {
  responses: Map<number, number>
  bytesReceived: number
  recordsSpooled: number
  inFlight: number
  /** Idle connections closed to make room, and connections refused. */
  connections: ConnectionStats
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
  const retryAfter = String(options.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS)
  const { spool, logger } = options
  const access = options.access ?? OPEN_ACCESS
  const { bindings } = options
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS
  const guard = createConnectionGuard({
    maxConnections,
    maxPerAddress: options.maxConnectionsPerAddress ?? maxConnections,
    firstByteTimeoutMs: options.firstByteTimeoutMs ?? DEFAULT_FIRST_BYTE_TIMEOUT_MS,
  })
  const stats: ReceiverStats = { responses: new Map(), bytesReceived: 0, recordsSpooled: 0, inFlight: 0, connections: guard.stats }
  let drainWaiters: Array<() => void> = []
  let openConnections = 0
  /** The request being handled on each connection, so a parse error answers only after it. */
  const inFlightBySocket = new WeakMap<object, { req: IncomingMessage, done: Promise<void> }>()

  /** Each request's place on its connection (1, 2, ...), in the order Node parsed them. */
  const requestNumber = new WeakMap<IncomingMessage, number>()
  const requestsSeen = new WeakMap<Socket, number>()
  /** The number of the request whose answer closes the connection: nothing after it is handled. */
  const closingAt = new WeakMap<Socket, number>()
  const behindClose = (req: IncomingMessage): boolean => (closingAt.get(req.socket) ?? Infinity) < requestNumber.get(req)!

  // Refused requests at warn, with the reason and the client (never the path: it may hold a
  // token), at most one line per reason every 10 s, with the count of the others.
  const refusals = new RateLimitedLog(logger)
  const errors = new RateLimitedLog(logger)
  const refused = (status: number, reason: string, remoteAddr: string | undefined): void => {
    refusals.log('warn', `${status} ${reason}`, { status, reason, remote_addr: remoteAddr }, `request refused: ${status} ${reason}`)
  }

  const answer = (res: ServerResponse, status: number, headers?: Record<string, string>): void => {
    if (headers?.Connection === 'close') {
      const n = requestNumber.get(res.req)!
      if (n < (closingAt.get(res.req.socket) ?? Infinity)) closingAt.set(res.req.socket, n)
    }
    stats.responses.set(status, (stats.responses.get(status) ?? 0) + 1)
    res.writeHead(status, headers === undefined ? EMPTY_BODY : { ...EMPTY_BODY, ...headers })
    res.end()
  }

  /** A stored callback's answer, as its provider expects it. */
  const answerStored = (res: ServerResponse, expected: ProviderAnswer): void => {
    if (expected.body === '' && expected.contentType === undefined) {
      answer(res, expected.status)
      return
    }
    stats.responses.set(expected.status, (stats.responses.get(expected.status) ?? 0) + 1)
    const headers: Record<string, string> = { 'Content-Length': String(Buffer.byteLength(expected.body)) }
    if (expected.contentType !== undefined) headers['Content-Type'] = expected.contentType
    res.writeHead(expected.status, headers)
    res.end(expected.body)
  }

  /** `expectsContinue`: the client waits for `100 Continue` before sending the body. */
  const handle = async (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): Promise<void> => {
    // Pipelined behind an answer that closes the connection: it can never be answered.
    if (behindClose(req)) return
    // Node stops counting at server.maxHeadersCount, so reaching it means "too many".
    if (req.rawHeaders.length / 2 > MAX_HEADER_COUNT) {
      refused(431, 'too many headers', req.socket.remoteAddress)
      answer(res, 431, { Connection: 'close' })
      return
    }
    const admission = access.admit(req)
    if (!admission.admitted) {
      refused(admission.status, admission.reason, req.socket.remoteAddress)
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
      refused(405, 'method not allowed', admission.remoteAddr)
      req.resume()
      answer(res, 405, { Allow: ALLOW })
      return
    }
    if (declaredOverLimit(req, maxBodyBytes)) {
      // The body is not wanted, so the connection cannot be reused.
      refused(413, 'declared body over --max-body', admission.remoteAddr)
      answer(res, 413, { Connection: 'close' })
      return
    }
    if (expectsContinue) res.writeContinue()
    let body: Buffer
    try {
      body = await readBody(req, maxBodyBytes)
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        // Stop reading: the rest of the body is not wanted, so the connection cannot be reused.
        refused(413, 'body over --max-body', admission.remoteAddr)
        answer(res, 413, { Connection: 'close' })
      } else {
        res.destroy()
      }
      return
    }
    stats.bytesReceived += body.length
    // Read once: the signature check, the provider's choice and the record see the same fields.
    const parsed = parseBody(body)
    const { path, search } = splitTarget(url)
    const query = parseParams(search)
    const fields = mergeFields(query, parsed.fields)
    const bound = bindings?.profileFor(path)
    const shaped = recogniseProvider({ fields })
    const denied = access.verifyBody(req, admission, parsed, { bound, shaped })
    if (denied !== undefined) {
      refused(denied.status, denied.reason, admission.remoteAddr)
      answer(res, denied.status, denied.headers)
      return
    }
    const line = encodeRequest({
      method,
      url,
      remoteAddr: admission.remoteAddr,
      headers: req.headers,
      body,
      parsed,
      query,
    })
    // An earlier request on this connection was answered with a close while this one was read.
    if (behindClose(req)) return
    try {
      // With one connection open, nobody else can send a callback until this one is answered.
      await spool.append(line, openConnections === 1)
    } catch (err) {
      // A full disk fails every request: one line per interval, with the count of the others.
      errors.log('error', `spool:${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { err }, 'callback not spooled: answered 503')
      answer(res, 503, { 'Retry-After': retryAfter })
      return
    }
    stats.recordsSpooled++
    answerStored(res, (bound ?? shaped ?? FALLBACK_PROFILE).answer)
    // Parsed again only at debug level, so the hot path pays nothing; numbers are masked.
    if (logger.isLevelEnabled('debug')) logger.debug(debugSummary(path, body), 'callback spooled')
  }

  const server = createServer({
    requestTimeout: requestTimeoutMs,
    headersTimeout: requestTimeoutMs,
    // Node checks the two timeouts on this interval; its 30 s default would let a stalled
    // request live far past the limit.
    connectionsCheckingInterval: Math.min(1000, requestTimeoutMs),
    keepAliveTimeout: 5000,
  }) as Receiver
  const onRequest = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void => {
    const socket = req.socket
    const n = (requestsSeen.get(socket) ?? 0) + 1
    requestsSeen.set(socket, n)
    requestNumber.set(req, n)
    guard.requestStarted(socket)
    res.once('close', () => guard.requestEnded(socket))
    stats.inFlight++
    const done = handle(req, res, expectsContinue)
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
  }
  server.on('request', (req: IncomingMessage, res: ServerResponse) => onRequest(req, res, false))
  // Listening here stops Node from sending 100 Continue before the request has been checked.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => onRequest(req, res, true))
  server.on('connection', (socket: Socket) => {
    openConnections++
    socket.once('close', () => { openConnections-- })
    // Node's own maxConnections would refuse the new connection; the guard closes an idle one.
    guard.admit(socket)
  })
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // Wait for the request in flight only when it was complete: the error is about what followed it.
    const inFlight = inFlightBySocket.get(socket)
    answerClientError(err, socket, inFlight?.req.complete === true ? inFlight.done : undefined)
  })
  server.maxHeadersCount = MAX_HEADER_COUNT + 1
  server.stats = stats
  server.drained = () => stats.inFlight === 0
    ? Promise.resolve()
    : new Promise<void>((resolve) => { drainWaiters.push(resolve) })
  return server
}
