/**
 * A real receiver on 127.0.0.1:0 spooling into a temp data dir, in process, for the security
 * tests, with a helper to read back what was spooled.
 */
import { once } from 'node:events'
import { type AddressInfo } from 'node:net'
import { rm } from 'node:fs/promises'
import type { TestContext } from 'node:test'
import type { Logger } from 'pino'
import type { SpoolRecord } from '../../src/record.js'
import { createAccessControl, type AccessOptions } from '../../src/receiver/access.js'
import { createReceiver, type Receiver, type ReceiverOptions } from '../../src/receiver/server.js'
import { SpoolWriter } from '../../src/spool/writer.js'
import { send } from './http.js'
import { silentLogger } from './logger.js'
import { readRecords, readSpool } from './spool.js'
import { makeTempDir } from './tmp.js'
import { dataLayout } from '../../src/spool/layout.js'

export interface LiveReceiver {
  server: Receiver
  writer: SpoolWriter
  dataDir: string
  port: number
  /** Every record spooled so far, in order. */
  records (): Promise<SpoolRecord[]>
}

export interface LiveOptions extends Partial<Omit<ReceiverOptions, 'spool' | 'logger' | 'access'>> {
  access?: AccessOptions
  logger?: Logger
  /** Address to listen on. @default '127.0.0.1' */
  host?: string
}

export async function startLiveReceiver (t: TestContext, options: LiveOptions = {}): Promise<LiveReceiver> {
  // Not tempDir(t): the dir must be removed only after the server and writer below are closed.
  const dataDir = await makeTempDir()
  const logger = options.logger ?? silentLogger()
  const writer = await SpoolWriter.open({ layout: dataLayout(dataDir), logger })
  const { access, host, ...rest } = options
  const server = createReceiver({ ...rest, spool: writer, logger, access: access === undefined ? undefined : createAccessControl(access) })
  server.listen(0, host ?? '127.0.0.1')
  await once(server, 'listening')
  t.after(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await writer.close()
    await rm(dataDir, { recursive: true, force: true })
  })
  const port = (server.address() as AddressInfo).port
  return {
    server,
    writer,
    dataDir,
    port,
    async records () {
      // Stricter than readRecords: a torn last line fails the test rather than being skipped.
      const { torn } = await readSpool(dataDir)
      if (torn.length > 0) throw new Error(`torn spool segment: ${torn.join(', ')}`)
      return await readRecords(dataDir)
    },
  }
}

/** A normal Octopush-style callback; resolves with its status. */
export async function sendNormalCallback (port: number, path = '/', marker = 'ok'): Promise<number> {
  const body = JSON.stringify({ message_id: 'm-1', number: '+33600112233', status: 'DELIVERED', delivery_date: '2026-11-27 12:00:00', marker })
  const res = await send(port, { method: 'POST', path, body, headers: { 'Content-Type': 'application/json' } })
  return res.status
}
