/**
 * A client that holds idle connections to 127.0.0.1:<port> and opens a new one as each is closed,
 * run as its own process (its sockets do not share the test's file-descriptor limit).
 * argv: port, sockets, most reconnects, most milliseconds. Prints `ready` once `sockets`
 * connections have been made, `reconnects <n>` every 100 reconnects, then `done <reconnects>`
 * when a bound is reached, and exits.
 */
import { connect, type Socket } from 'node:net'

const [port, count, maxReconnects, maxMs] = process.argv.slice(2).map(Number) as [number, number, number, number]
const deadline = Date.now() + maxMs
const open = new Set<Socket>()
let connects = 0
let reconnects = 0
let ended = false

function end (): void {
  if (ended) return
  ended = true
  for (const s of open) s.destroy()
  process.stdout.write(`done ${reconnects}\n`, () => process.exit(0))
}

function openOne (): void {
  const socket = connect({ host: '127.0.0.1', port })
  open.add(socket)
  socket.on('connect', () => {
    if (++connects === count) process.stdout.write('ready\n')
  })
  // Sends nothing, reads whatever comes (nothing), and never writes.
  socket.resume()
  socket.on('error', () => {})
  socket.on('close', () => {
    open.delete(socket)
    if (ended) return
    if (reconnects >= maxReconnects || Date.now() > deadline) return end()
    if (++reconnects % 100 === 0) process.stdout.write(`reconnects ${reconnects}\n`)
    openOne()
  })
}

for (let i = 0; i < count; i++) openOne()
setTimeout(end, maxMs)
