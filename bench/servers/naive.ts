/**
 * What a durable receiver looks like without group commit: each request appends its own line
 * and fdatasyncs before it is answered. It builds the very line the receiver builds, so the only
 * difference between the two is how they sync.
 *
 * Usage: node --import tsx bench/servers/naive.ts <file>
 */
import { open } from 'node:fs/promises'
import { createServer } from 'node:http'
import { encodeRequest } from '../../src/receiver/build-record.js'
import { listenAndAnnounce } from './ready.js'

const path = process.argv[2]
if (path === undefined) throw new Error('usage: naive.ts <file to append to>')
const fh = await open(path, 'a', 0o640)

const server = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => chunks.push(chunk))
  req.on('end', () => {
    const line = encodeRequest({
      method: req.method ?? '',
      url: req.url ?? '/',
      remoteAddr: req.socket.remoteAddress ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks),
    })
    fh.write(line)
      .then(() => fh.datasync())
      .then(() => {
        res.writeHead(200, { 'Content-Length': '0' })
        res.end()
      }, (err: unknown) => {
        process.stderr.write(`naive: ${(err as Error).message}\n`)
        res.writeHead(503, { 'Content-Length': '0' })
        res.end()
      })
  })
})
server.on('close', () => { fh.close().catch(() => {}) })
listenAndAnnounce(server, 'naive')
