/**
 * What a durable receiver looks like without group commit: each request appends its own line
 * and fdatasyncs before it is answered. It builds the very line the receiver builds, so the only
 * difference between the two is how they sync.
 *
 * Two ways to write it, both "one write and one fdatasync per request":
 * - `serial` (the default): writeSync then fdatasyncSync in the request handler, one sync at a
 *   time: the sketch the receiver's targets were set against (bench/NOTES.md has its figures).
 * - `async`: fh.write then fh.datasync on libuv's thread pool, so up to four syncs overlap and
 *   ext4 folds them into one journal commit: a little group commit by accident.
 *
 * Usage: node --import tsx bench/servers/naive.ts <file> [serial|async]
 */
import { fdatasyncSync, writeSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { encodeRequest } from '../../src/receiver/build-record.js'
import { listenAndAnnounce } from './ready.js'

const path = process.argv[2]
const mode = process.argv[3] ?? 'serial'
if (path === undefined || (mode !== 'serial' && mode !== 'async')) throw new Error('usage: naive.ts <file to append to> [serial|async]')
const fh = await open(path, 'a', 0o640)

const answer = (res: ServerResponse, status: number): void => {
  res.writeHead(status, { 'Content-Length': '0' })
  res.end()
}

const failed = (res: ServerResponse, err: unknown): void => {
  process.stderr.write(`naive: ${(err as Error).message}\n`)
  answer(res, 503)
}

const lineOf = (req: IncomingMessage, chunks: Buffer[]): string => encodeRequest({
  method: req.method ?? '',
  url: req.url ?? '/',
  remoteAddr: req.socket.remoteAddress ?? '',
  headers: req.headers,
  body: Buffer.concat(chunks),
})

const server = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => chunks.push(chunk))
  req.on('end', () => {
    const line = lineOf(req, chunks)
    if (mode === 'serial') {
      try {
        const data = Buffer.from(line)
        let written = 0
        while (written < data.length) written += writeSync(fh.fd, data, written)
        fdatasyncSync(fh.fd)
      } catch (err) {
        failed(res, err)
        return
      }
      answer(res, 200)
      return
    }
    fh.write(line)
      .then(() => fh.datasync())
      .then(() => answer(res, 200), (err: unknown) => failed(res, err))
  })
})
server.on('close', () => { fh.close().catch(() => {}) })
listenAndAnnounce(server, `naive-${mode}`)
