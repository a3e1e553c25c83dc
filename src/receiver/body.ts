/** Reads a request body into memory, enforcing the size limit as the bytes arrive. */
import type { IncomingMessage } from 'node:http'
import { BodyAbortedError, BodyTooLargeError } from '../errors.js'

/** Whether the declared Content-Length is over `maxBytes`: known before a byte of the body is read. */
export function declaredOverLimit (req: IncomingMessage, maxBytes: number): boolean {
  const declared = req.headers['content-length']
  return declared !== undefined && Number(declared) > maxBytes
}

/**
 * Resolves with the whole body, or rejects with BodyTooLargeError as soon as the declared
 * Content-Length or the bytes received (chunked bodies too) pass `maxBytes`.
 */
export function readBody (req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    if (declaredOverLimit(req, maxBytes)) {
      reject(new BodyTooLargeError(`declared body of ${req.headers['content-length']} bytes is over the limit of ${maxBytes}`))
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    const cleanup = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('close', onClose)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > maxBytes) {
        cleanup()
        reject(new BodyTooLargeError(`body is over the limit of ${maxBytes} bytes`))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      cleanup()
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
    }
    const onError = (err: Error): void => {
      cleanup()
      reject(new BodyAbortedError(err.message, { cause: err }))
    }
    const onClose = (): void => {
      if (req.complete) return
      cleanup()
      reject(new BodyAbortedError('connection closed before the body was complete'))
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}
