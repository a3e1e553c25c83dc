/**
 * A three-node nats-server cluster of the test's own (/usr/sbin/nats-server, free ports, a
 * cluster configuration in a temp dir), an R3 stream: the stream's leader is SIGKILLed while a
 * processor consumes it; the processor carries on through the other two and every message is
 * handled and acked; and the same while a forwarder publishes a spool to the stream: no record is
 * lost, none is stored twice, and the forwarder carries on.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { once } from 'node:events'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { killHard, runCli } from '../helpers/cli.js'
import { closedPort, type NatsServer } from '../helpers/nats-server.js'
import { normalisedRecord, publishRecords } from '../helpers/nats-records.js'
import { deliveryRecord, lines } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { tempDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const NATS_SERVER = '/usr/sbin/nats-server'
const skip = existsSync(NATS_SERVER) ? false : `no ${NATS_SERVER}`
if (skip !== false) {
  if (process.env.CI === 'true') throw new Error(`${NATS_SERVER} is missing; CI=true: a missing server fails the run`)
  process.stderr.write(`skipping the NATS cluster test: ${NATS_SERVER} is missing (apt-get install nats-server)\n`)
}

interface Node { name: string, port: number, child: ChildProcess }

async function cluster (t: TestContext): Promise<Node[]> {
  const dir = await tempDir(t)
  const ports = [await closedPort(), await closedPort(), await closedPort()]
  const routes = [await closedPort(), await closedPort(), await closedPort()]
  const nodes: Node[] = []
  for (let i = 0; i < 3; i++) {
    const name = `n${i + 1}`
    const conf = join(dir, `${name}.conf`)
    await writeFile(conf, `server_name: ${name}
listen: 127.0.0.1:${ports[i]!}
jetstream { store_dir: "${join(dir, name)}" }
cluster {
  name: cs
  listen: 127.0.0.1:${routes[i]!}
  routes: [${routes.filter((_, j) => j !== i).map((p) => `nats://127.0.0.1:${p}`).join(', ')}]
}
`)
    const child = spawn(NATS_SERVER, ['-c', conf], { stdio: 'ignore' })
    nodes.push({ name, port: ports[i]!, child })
  }
  t.after(async () => {
    for (const n of nodes) {
      if (n.child.exitCode === null && n.child.signalCode === null) {
        n.child.kill('SIGKILL')
        await once(n.child, 'exit')
      }
    }
  })
  return nodes
}

/** The cluster's client, once JetStream answers. */
async function clusterClient (t: TestContext, servers: string[]): Promise<NatsConnection> {
  let nc: NatsConnection | undefined
  await waitFor('the cluster up, JetStream ready', async () => {
    try {
      nc ??= await connect({ servers, timeout: 2000, maxReconnectAttempts: -1 })
      await (await jetstreamManager(nc, { timeout: 2000 })).getAccountInfo()
      return true
    } catch {
      return false
    }
  }, 60_000, 500)
  t.after(async () => { await nc!.close() })
  return nc!
}

test('an R3 stream on three servers: its leader SIGKILLed mid-forward, the forwarder carries on; every spooled record is in the stream once', { skip, timeout: 180_000 }, async (t) => {
  const nodes = await cluster(t)
  const servers = nodes.map((n) => `127.0.0.1:${n.port}`)
  const nc = await clusterClient(t, servers)
  const jsm = await jetstreamManager(nc, { timeout: 10_000 })
  const dir = await tempDir(t)
  const first = Array.from({ length: 3000 }, (_, i) => deliveryRecord(i))
  const second = Array.from({ length: 1000 }, (_, i) => deliveryRecord(3000 + i))
  await writeSegment(dir, 1, lines(first))
  // The forwarder creates the R3 stream itself (retried until the cluster has a meta leader).
  const forwarder = runCli(['process', '--follow', '--data-dir', dir, '--on', `*=nats://${servers.join(',')}?stream=CALLBACKS`,
    '--stream-replicas', '3', '--retry-pause', '200ms', '--handler-timeout', '2s'])
  t.after(() => killHard(forwarder))
  const stored = async (): Promise<number> => {
    try {
      return (await jsm.streams.info('CALLBACKS')).state.messages
    } catch {
      return 0
    }
  }
  await waitFor('forwarding under way', async () => await stored() >= 300, 60_000, 20)
  const leader = (await jsm.streams.info('CALLBACKS')).cluster?.leader
  const node = nodes.find((n) => n.name === leader)
  assert.ok(node !== undefined, `the stream's leader ${leader ?? '?'} is one of ours`)
  node.child.kill('SIGKILL')
  await once(node.child, 'exit')
  assert.ok(await stored() < first.length, 'killed mid-forward')
  // New records after the leader died: the forwarder carries on.
  await writeSegment(dir, 2, lines(second))
  const all = [...first, ...second]
  await waitFor('every record stored', async () => await stored() >= all.length, 120_000, 500)
  const info = await jsm.streams.info('CALLBACKS')
  assert.equal(info.state.messages, all.length, 'no record stored twice')
  const ids = new Set<string>()
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const message = await jsm.streams.getMessage('CALLBACKS', { seq })
    ids.add(message!.json<{ id: string }>().id)
  }
  for (const r of all) assert.ok(ids.has(r.id), `record ${r.id} is in the stream`)
  forwarder.child.kill('SIGTERM')
  assert.equal((await forwarder.exited).code, 0, forwarder.stdout().slice(-3000))
})

test('an R3 stream on three servers: its leader SIGKILLed mid-consumption, the processor carries on and every message is handled and acked', { skip, timeout: 180_000 }, async (t) => {
  const nodes = await cluster(t)
  const servers = nodes.map((n) => `127.0.0.1:${n.port}`)
  const nc = await clusterClient(t, servers)
  const jsm = await jetstreamManager(nc, { timeout: 10_000 })
  await waitFor('the R3 stream created', async () => {
    try {
      await jsm.streams.add({ name: 'CALLBACKS', subjects: ['callbacks.>'], num_replicas: 3 })
      return true
    } catch {
      return false
    }
  }, 60_000, 500)
  const server: NatsServer = { address: servers[0]!, nc, jsm }
  const records = await publishRecords(server, { name: 'CALLBACKS', prefix: 'callbacks', url: () => '', info: async () => await jsm.streams.info('CALLBACKS'), messages: async () => [] },
    Array.from({ length: 400 }, (_, i) => normalisedRecord(i)))

  const seen = new Map<string, number>()
  const http = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8').on('data', (c: string) => { body += c }).on('end', () => {
      const id = (JSON.parse(body) as { id: string }).id
      setTimeout(() => { seen.set(id, (seen.get(id) ?? 0) + 1); res.end('ok') }, 10)
    })
  })
  http.listen(0, '127.0.0.1')
  await once(http, 'listening')
  t.after(() => { http.closeAllConnections(); http.close() })

  const dir = await tempDir(t)
  const processor = runCli(['process', '--follow', '--data-dir', dir, '--source', `nats://${servers.join(',')}?stream=CALLBACKS&consumer=pool`,
    '--on', `*=http://127.0.0.1:${(http.address() as AddressInfo).port}/`, '--concurrency', '4', '--ack-wait', '3s', '--retry-pause', '200ms'])
  t.after(() => killHard(processor))
  await waitFor('consumption under way', () => seen.size >= 80, 60_000, 20)
  const leader = (await jsm.streams.info('CALLBACKS')).cluster?.leader
  const node = nodes.find((n) => n.name === leader)
  assert.ok(node !== undefined, `the stream's leader ${leader ?? '?'} is one of ours`)
  node.child.kill('SIGKILL')
  await once(node.child, 'exit')
  assert.ok(seen.size < records.length, 'killed mid-way')

  await waitFor('every message handled and acked', async () => {
    if (records.some((r) => !seen.has(r.id))) return false
    try {
      const info = await jsm.consumers.info('CALLBACKS', 'pool')
      return info.num_pending === 0 && info.num_ack_pending === 0 && info.ack_floor.stream_seq === records.length
    } catch {
      return false
    }
  }, 120_000, 500)
  processor.child.kill('SIGTERM')
  assert.equal((await processor.exited).code, 0, processor.stdout().slice(-3000))
  for (const r of records) assert.ok((seen.get(r.id) ?? 0) >= 1)
})
