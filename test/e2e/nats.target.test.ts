/**
 * The NATS JetStream target (the forwarder) against the real nats-server: each test with a stream
 * of its own. Without a server the suite says so in one line and skips (fails with CI=true).
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream'
import { runProcessCommand } from '../../src/processor/run.js'
import { parseRoute } from '../../src/processor/dispatch.js'
import { normaliseCallback } from '../../src/processor/normalise.js'
import { ZonedTimeReader } from '../../src/processor/provider-time.js'
import { loadCheckpoint } from '../../src/spool/checkpoint.js'
import { runReplay } from '../../src/tools/replay.js'
import type { SpoolRecord } from '../../src/record.js'
import { parseNatsTarget } from '../../src/nats/url.js'
import { MAX_IN_FLIGHT } from '../../src/processor/handlers/nats.js'
import { runCli } from '../helpers/cli.js'
import { loadFixtures } from '../helpers/fixtures.js'
import { capturingLogger, silentLogger } from '../helpers/logger.js'
import { closedPort, natsProxy, reachNats, testStream, type TestStream } from '../helpers/nats-server.js'
import { readNdjson } from '../helpers/ndjson.js'
import { processorOptions } from '../helpers/processor.js'
import { deliveryRecord, fixtureRecord, lines } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { tempDir } from '../helpers/tmp.js'
import { captureIO } from '../helpers/tool-io.js'
import { waitFor } from '../helpers/wait.js'
import { dataLayout } from '../../src/spool/layout.js'

const noSignals = (): void => {}
const time = new ZonedTimeReader('Europe/Paris')
const server = await reachNats()
after(async () => { await server?.nc.close() })

async function fixtureRecords (): Promise<SpoolRecord[]> {
  const out: SpoolRecord[] = []
  for (const f of loadFixtures()) out.push(await fixtureRecord(f.name))
  return out
}

async function pass (dir: string, target: string, overrides: Parameters<typeof processorOptions>[1] = {}, logger = silentLogger()): Promise<number> {
  return await runProcessCommand(processorOptions(dir, { routes: [parseRoute(`*=${target}`)], ...overrides }), logger, noSignals)
}

/** Each stored message's Nats-Msg-Id, in stream order. */
async function storedIds (stream: TestStream): Promise<string[]> {
  return (await stream.messages()).map((m) => m.headers['Nats-Msg-Id']?.[0] ?? '')
}

async function lastPass (dir: string): Promise<{ outcome: string, figures: { lag_records: number } }> {
  return JSON.parse(await readFile(join(dir, 'state', 'last-pass.json'), 'utf8')) as { outcome: string, figures: { lag_records: number } }
}

async function deadLetters (dir: string): Promise<Array<Record<string, unknown>>> {
  const files = await readdir(join(dir, 'dead')).catch(() => [])
  return (await Promise.all(files.map((f) => readNdjson(join(dir, 'dead', f))))).flat()
}

describe('the NATS target URL', () => {
  test('hosts, credentials, token and TLS as NATS URLs carry them; never shown', () => {
    const a = parseNatsTarget('nats://fwd:s3cret@n1.example:4223,n2.example,nats://n3.example:4224?stream=SMS&subject=sms.in')
    assert.deepEqual(a.url.servers, ['n1.example:4223', 'n2.example:4222', 'n3.example:4224'])
    assert.equal(a.url.user, 'fwd')
    assert.equal(a.url.password, 's3cret')
    assert.equal(a.url.tls, false)
    assert.equal(a.stream, 'SMS')
    assert.equal(a.subjectPrefix, 'sms.in')
    assert.ok(!a.url.display.includes('s3cret'))
    const b = parseNatsTarget('tls://t0ken@127.0.0.1?ca=/etc/ca.pem')
    assert.equal(b.url.token, 't0ken')
    assert.equal(b.url.tls, true)
    assert.equal(b.url.caFile, '/etc/ca.pem')
    assert.equal(b.stream, 'CALLBACKS')
    assert.equal(b.subjectPrefix, 'callbacks')
    assert.ok(!b.url.display.includes('t0ken'))
    for (const bad of ['nats://u:s3cret@h?nope=1', 'nats://u:s3cret@h?stream=a.b', 'nats://u:s3cret@h?subject=a.*', 'nats://u:s3cret@h/path', 'nats://u:s3cret@', 'nats://u:s3cret@h?cert=/c']) {
      assert.throws(() => parseRoute(`*=${bad}`), (err: Error) => {
        assert.equal((err as { code?: string }).code, 'SPOOL_ERR_CONFIG', bad)
        assert.ok(!err.message.includes('s3cret'), err.message)
        return true
      })
    }
  })

  test('`config` shows the target with its password and token masked', async () => {
    const cli = runCli(['config'], { CALLBACK_SPOOL_ON: '*=nats://fwd:s3cret@127.0.0.1:4222\ndelivery=nats://t0ken@127.0.0.1' })
    const { code } = await cli.exited
    assert.equal(code, 0, cli.stderr())
    assert.ok(cli.stdout().includes('nats://fwd:***@127.0.0.1:4222'), cli.stdout())
    assert.ok(cli.stdout().includes('nats://***@127.0.0.1'), cli.stdout())
    assert.ok(!/s3cret|t0ken/.test(cli.stdout() + cli.stderr()))
  })
})

describe('nats target', { skip: server === undefined ? 'no nats-server (see the line above)' : false }, () => {
  test('every record published to <prefix>.<kind> with Nats-Msg-Id = its id and the normalised record as payload; the stream created as specified', async (t) => {
    const stream = await testStream(t, server!)
    const dir = await tempDir(t)
    const records = await fixtureRecords()
    await writeSegment(dir, 1, lines(records))
    const { logger, lines: logged } = capturingLogger()
    assert.equal(await pass(dir, stream.url(), {}, logger), 0)
    const messages = await stream.messages()
    assert.equal(messages.length, records.length)
    for (const [i, record] of records.entries()) {
      const n = normaliseCallback(record, time)
      const m = messages[i]!
      assert.equal(m.subject, `${stream.prefix}.${n.kind}`)
      assert.deepEqual(m.headers['Nats-Msg-Id'], [record.id])
      assert.deepEqual(JSON.parse(m.data), JSON.parse(JSON.stringify(n)))
    }
    const { config } = await stream.info()
    assert.equal(config.storage, StorageType.File)
    assert.equal(config.retention, RetentionPolicy.Limits)
    assert.equal(config.discard, DiscardPolicy.New)
    assert.equal(config.max_age, 7 * 86_400 * 1e9)
    assert.equal(config.duplicate_window, 600 * 1e9)
    assert.equal(config.num_replicas, 1)
    assert.deepEqual(config.subjects, [`${stream.prefix}.>`])
    assert.ok(logged.some((l) => l.msg === 'JetStream stream created'))
    const checkpoint = await loadCheckpoint(dataLayout(dir))
    assert.equal(checkpoint?.offset, Buffer.byteLength(lines(records)))
    assert.deepEqual(await deadLetters(dir), [])
  })

  test('--stream-max-age and --stream-replicas: a stream that exists with other settings is used as it is, with one warning line', async (t) => {
    const stream = await testStream(t, server!, { max_age: 3600 * 1e9, discard: DiscardPolicy.Old })
    const dir = await tempDir(t)
    await writeSegment(dir, 1, lines([deliveryRecord(1)]))
    const { logger, lines: logged } = capturingLogger()
    assert.equal(await pass(dir, stream.url(), { streamMaxAgeMs: 2 * 86_400_000 }, logger), 0)
    const warnings = logged.filter((l) => l.level === 40)
    assert.equal(warnings.length, 1, JSON.stringify(warnings))
    assert.match(String(warnings[0]!.msg), /discard old.*max_age 3600s \(not 172800s\)/)
    const { config, state } = await stream.info()
    assert.equal(config.max_age, 3600 * 1e9)
    assert.equal(state.messages, 1)

    const created = await testStream(t, server!)
    const other = await tempDir(t)
    await writeSegment(other, 1, lines([deliveryRecord(1)]))
    const cli = runCli(['process', '--data-dir', other, '--on', `*=${created.url()}`, '--stream-max-age', '2d', '--stream-replicas', '1'])
    assert.equal((await cli.exited).code, 0, cli.stderr())
    assert.equal((await created.info()).config.max_age, 2 * 86_400 * 1e9)
    const three = runCli(['process', '--data-dir', other, '--on', `*=${created.url()}`, '--stream-replicas', '6'])
    assert.equal((await three.exited).code, 64, three.stderr())
  })

  test('more records than publishes may await their PubAck at once; re-forwarding after `replay --all` stores none twice', async (t) => {
    const stream = await testStream(t, server!)
    const dir = await tempDir(t)
    const records = Array.from({ length: MAX_IN_FLIGHT * 3 }, (_, i) => deliveryRecord(i))
    await writeSegment(dir, 1, lines(records))
    // Every handle() past the limit waits for room; none may be left waiting (the handler timeout would fail it).
    assert.equal(await pass(dir, stream.url(), { handlerTimeoutMs: 5000, tries: 1, orderKey: 'none' }), 0)
    assert.equal((await stream.info()).state.messages, records.length)
    const replay = await runReplay({ dataDir: dir, target: { all: true }, yes: true }, captureIO())
    assert.equal(replay.requeued, records.length)
    assert.equal(await pass(dir, stream.url()), 0)
    assert.deepEqual(await storedIds(stream), records.map((r) => r.id))
  })

  test('the server withholds its PubAcks: the pass fails (exit 75) and the checkpoint stays; the next pass stores nothing twice', async (t) => {
    const stream = await testStream(t, server!, { duplicate_window: 600 * 1e9 })
    const proxy = await natsProxy(t, server!)
    proxy.withholdAfterPublishTo(`${stream.prefix}.`)
    const dir = await tempDir(t)
    const records = Array.from({ length: 20 }, (_, i) => deliveryRecord(i))
    await writeSegment(dir, 1, lines(records))
    const { logger, lines: logged } = capturingLogger()
    assert.equal(await pass(dir, stream.url(proxy.address), { handlerTimeoutMs: 500, tries: 2 }, logger), 75)
    // The messages did reach the stream; only their PubAcks were lost.
    assert.equal((await stream.info()).state.messages, records.length)
    assert.equal(await loadCheckpoint(dataLayout(dir)), undefined)
    assert.ok(logged.some((l) => String(l.msg).startsWith('pass failed') && /cannot publish 20 record/.test(JSON.stringify(l))), JSON.stringify(logged.filter((l) => Number(l.level) >= 40)))
    assert.equal((await lastPass(dir)).figures.lag_records, records.length)

    assert.equal(await pass(dir, stream.url()), 0)
    assert.deepEqual(await storedIds(stream), records.map((r) => r.id))
    assert.equal((await loadCheckpoint(dataLayout(dir)))?.offset, Buffer.byteLength(lines(records)))
  })

  test('a forwarder SIGKILLed between its publishes and their PubAcks left the checkpoint where it was', async (t) => {
    const stream = await testStream(t, server!, { duplicate_window: 600 * 1e9 })
    const proxy = await natsProxy(t, server!)
    const dir = await tempDir(t)
    const first = Array.from({ length: 5 }, (_, i) => deliveryRecord(i))
    const segment = await writeSegment(dir, 1, lines(first))
    // A first pass through the proxy, acked: the checkpoint is past those five.
    assert.equal(await pass(dir, stream.url(proxy.address)), 0)
    const before = await loadCheckpoint(dataLayout(dir))
    assert.equal(before?.offset, Buffer.byteLength(lines(first)))
    const more = Array.from({ length: 30 }, (_, i) => deliveryRecord(100 + i))
    const { appendSegment } = await import('../helpers/spool.js')
    await appendSegment(dir, segment, lines(more))
    proxy.withholdAfterPublishTo(`${stream.prefix}.`)
    const cli = runCli(['process', '--data-dir', dir, '--on', `*=${stream.url(proxy.address)}`, '--follow', '--handler-timeout', '1m'])
    t.after(() => { cli.child.kill('SIGKILL') })
    await waitFor('the 30 new messages stored', async () => (await stream.info()).state.messages === first.length + more.length, 20_000, 50)
    cli.child.kill('SIGKILL')
    await cli.exited
    const after = await loadCheckpoint(dataLayout(dir))
    assert.deepEqual({ segment: after?.segment, offset: after?.offset }, { segment: before?.segment, offset: before?.offset })

    assert.equal(await pass(dir, stream.url()), 0)
    assert.deepEqual(await storedIds(stream), [...first, ...more].map((r) => r.id))
  })

  test('a full stream (DiscardNew) makes `process` exit 75 with nothing lost and the lag growing; room again, everything once', async (t) => {
    const stream = await testStream(t, server!, { max_msgs: 3, discard: DiscardPolicy.New, duplicate_window: 600 * 1e9 })
    const dir = await tempDir(t)
    const first = Array.from({ length: 10 }, (_, i) => deliveryRecord(i))
    const segment = await writeSegment(dir, 1, lines(first))
    const run = async (): Promise<number | null> => {
      const cli = runCli(['process', '--data-dir', dir, '--on', `*=${stream.url()}`, '--retry-delay', '10ms'])
      const { code } = await cli.exited
      if (code !== 75) assert.fail(`exit ${code}: ${cli.stdout()}${cli.stderr()}`)
      assert.match(cli.stdout(), /maximum messages exceeded/)
      return code
    }
    assert.equal(await run(), 75)
    assert.equal((await stream.info()).state.messages, 3)
    assert.equal(await loadCheckpoint(dataLayout(dir)), undefined)
    assert.equal((await lastPass(dir)).figures.lag_records, 10)
    const { appendSegment } = await import('../helpers/spool.js')
    const more = Array.from({ length: 5 }, (_, i) => deliveryRecord(100 + i))
    await appendSegment(dir, segment, lines(more))
    assert.equal(await run(), 75)
    assert.equal((await lastPass(dir)).figures.lag_records, 15)

    const { config } = await stream.info()
    await server!.jsm.streams.update(stream.name, { ...config, max_msgs: -1 })
    assert.equal(await pass(dir, stream.url()), 0)
    assert.deepEqual(await storedIds(stream), [...first, ...more].map((r) => r.id))
  })

  test('a message the stream refuses for itself (too large) is dead-lettered; the others are stored', async (t) => {
    const stream = await testStream(t, server!, { max_msg_size: 1500 })
    const dir = await tempDir(t)
    const small = [deliveryRecord(1), deliveryRecord(2)]
    const big = deliveryRecord(3)
    big.fields = { ...big.fields, padding: 'x'.repeat(2000) }
    await writeSegment(dir, 1, lines([small[0]!, big, small[1]!]))
    assert.equal(await pass(dir, stream.url()), 0)
    assert.deepEqual(await storedIds(stream), small.map((r) => r.id))
    const dead = await deadLetters(dir)
    assert.equal(dead.length, 1)
    assert.match(JSON.stringify(dead[0]), /message size exceeds maximum/)
  })

  test('the NATS server down: the pass fails like any target\'s (exit 75); --follow carries on once it is back', async (t) => {
    const stream = await testStream(t, server!)
    const port = await closedPort()
    const dir = await tempDir(t)
    const records = Array.from({ length: 10 }, (_, i) => deliveryRecord(i))
    await writeSegment(dir, 1, lines(records))
    assert.equal(await pass(dir, stream.url(`127.0.0.1:${port}`), { tries: 2 }), 75)
    assert.equal(await loadCheckpoint(dataLayout(dir)), undefined)

    const cli = runCli(['process', '--data-dir', dir, '--on', `*=${stream.url(`127.0.0.1:${port}`)}`, '--follow', '--retry-pause', '200ms', '--retry-delay', '10ms'])
    t.after(() => { cli.child.kill('SIGKILL') })
    await waitFor('a failed pass', () => cli.stdout().includes('pass failed'), 20_000, 50)
    await natsProxy(t, server!, port)
    await waitFor('the checkpoint at the end', async () => (await loadCheckpoint(dataLayout(dir)))?.offset === Buffer.byteLength(lines(records)), 20_000, 50)
    cli.child.kill('SIGTERM')
    await cli.exited
    assert.deepEqual(await storedIds(stream), records.map((r) => r.id))
  })
})
