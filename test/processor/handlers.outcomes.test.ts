import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ExecHandler } from '../../src/processor/handlers/exec.js'
import { HttpHandler } from '../../src/processor/handlers/http.js'
import { ModuleHandler } from '../../src/processor/handlers/module.js'
import { FileHandler } from '../../src/processor/handlers/file.js'
import { parseRoute } from '../../src/processor/dispatch.js'
import { normaliseCallback, type NormalisedCallback } from '../../src/processor/normalise.js'
import { ZonedTimeReader } from '../../src/processor/provider-time.js'
import { runProcessCommand, EXIT_TEMPFAIL } from '../../src/processor/run.js'
import { tempDir } from '../helpers/tmp.js'
import { silentLogger } from '../helpers/logger.js'
import { deliveryRecord, fixtureRecord, lines } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { readNdjson } from '../helpers/ndjson.js'
import { processorOptions } from '../helpers/processor.js'

const paris = new ZonedTimeReader('Europe/Paris')
const noSignals = (): void => {}

async function sample (): Promise<NormalisedCallback> {
  return normaliseCallback(await fixtureRecord('optout-json.http'), paris)
}

async function deadLetters (dir: string): Promise<Array<Record<string, unknown>>> {
  let files: string[] = []
  try { files = await readdir(join(dir, 'dead')) } catch {}
  return (await Promise.all(files.map((f) => readNdjson(join(dir, 'dead', f))))).flat()
}

test('file handler: appends NDJSON lines, durable on flush', async (t) => {
  const dir = await tempDir(t)
  const h = new FileHandler('file:x', join(dir, 'sub', 'x.ndjson'))
  const rec = await sample()
  assert.deepEqual(h.handle(rec), { outcome: 'done' })
  assert.deepEqual(h.handle(rec), { outcome: 'done' })
  await h.flush()
  await h.close()
  const out = await readNdjson(join(dir, 'sub', 'x.ndjson'))
  assert.equal(out.length, 2)
  assert.deepEqual(out[0], JSON.parse(JSON.stringify(rec)))
})

test('file handler to a device (`file:/dev/null`, to discard a kind): a pass is done, and the checkpoint moves', async (t) => {
  const dir = await tempDir(t)
  const rec = deliveryRecord(1)
  await writeSegment(dir, 1, lines([rec]))
  // fdatasync(2) refuses a character device (EINVAL): the pass used to fail with 75 for ever.
  const options = processorOptions(dir, { routes: [parseRoute('*=file:/dev/null')] })
  assert.equal(await runProcessCommand(options, silentLogger(), noSignals), 0)
  const checkpoint = JSON.parse(await readFile(join(dir, 'state', 'checkpoint.json'), 'utf8')) as { offset: number }
  assert.equal(checkpoint.offset, Buffer.byteLength(lines([rec])))
})

test('exec handler: record on stdin, CALLBACK_KIND and CALLBACK_ID set; 0 done, 65 dead, other exit / signal / timeout retry', async (t) => {
  const dir = await tempDir(t)
  const rec = await sample()
  const ok = new ExecHandler('exec:', `cat > ${join(dir, 'stdin.json')}; printf '%s %s' "$CALLBACK_KIND" "$CALLBACK_ID" > ${join(dir, 'env')}`, 5000)
  assert.deepEqual(await ok.handle(rec), { outcome: 'done' })
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'stdin.json'), 'utf8')), JSON.parse(JSON.stringify(rec)))
  assert.equal(await readFile(join(dir, 'env'), 'utf8'), `optout ${rec.id}`)
  const dead = await new ExecHandler('exec:', 'echo bad number >&2; exit 65', 5000).handle(rec)
  assert.equal(dead.outcome, 'dead')
  assert.match((dead as { error: string }).error, /exit 65 \(EX_DATAERR\): bad number/)
  const retry = await new ExecHandler('exec:', 'exit 1', 5000).handle(rec)
  assert.deepEqual(retry, { outcome: 'retry', error: 'exit 1' })
  const signalled = await new ExecHandler('exec:', 'kill -TERM $$', 5000).handle(rec)
  assert.equal(signalled.outcome, 'retry')
  assert.match((signalled as { error: string }).error, /SIGTERM/)
  const slow = await new ExecHandler('exec:', 'sleep 5', 200).handle(rec)
  assert.deepEqual(slow, { outcome: 'retry', error: 'timed out after 200 ms' })
  // A command that ignores stdin is fine.
  assert.deepEqual(await new ExecHandler('exec:', 'true', 5000).handle(rec), { outcome: 'done' })
})

test('exec through a pass: success, dead letter, and retry later', async (t) => {
  const dir = await tempDir(t)
  const recs = [deliveryRecord(1), deliveryRecord(2)]
  await writeSegment(dir, 1, lines(recs))
  const script = join(dir, 'h.sh')
  // The first record is bad data, the second is fine.
  await writeFile(script, `grep -q '"sms_1"' && exit 65; echo "$CALLBACK_ID" >> ${join(dir, 'done')}\n`)
  assert.equal(await runProcessCommand(processorOptions(dir, { routes: [parseRoute(`delivery=exec:sh ${script}`)] }), silentLogger(), noSignals), 0)
  assert.equal((await readFile(join(dir, 'done'), 'utf8')).trim(), recs[1]!.id)
  const dead = await deadLetters(dir)
  assert.equal(dead.length, 1)
  assert.equal((dead[0]!.record as { id: string }).id, recs[0]!.id)
  assert.equal(dead[0]!.target, `exec:sh ${script}`)
  assert.equal(dead[0]!.attempts, 1)
})

async function startServer (t: { after: (fn: () => unknown) => void }, answer: (req: IncomingMessage, body: string) => number) {
  const received: Array<{ headers: IncomingMessage['headers'], body: string }> = []
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (d: string) => { body += d })
    req.on('end', () => {
      received.push({ headers: req.headers, body })
      const status = answer(req, body)
      if (status === 0) return // never answers: a timeout
      res.statusCode = status
      res.end(status >= 300 ? 'nope' : '')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => { server.closeAllConnections(); server.close() })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received }
}

test('http handler: POSTs the record as JSON; 2xx done, 4xx dead except 408/429, 5xx and network errors retry', async (t) => {
  let status = 204
  const srv = await startServer(t, () => status)
  const rec = await sample()
  const h = new HttpHandler(srv.url, 2000)
  assert.deepEqual(await h.handle(rec), { outcome: 'done' })
  assert.deepEqual(JSON.parse(srv.received[0]!.body), JSON.parse(JSON.stringify(rec)))
  assert.equal(srv.received[0]!.headers['content-type'], 'application/json')
  assert.equal(srv.received[0]!.headers['idempotency-key'], rec.id)
  for (const [code, outcome] of [[200, 'done'], [400, 'dead'], [404, 'dead'], [422, 'dead'], [408, 'retry'], [429, 'retry'], [500, 'retry'], [503, 'retry']] as const) {
    status = code
    assert.equal((await h.handle(rec)).outcome, outcome, String(code))
  }
  status = 0
  assert.deepEqual(await new HttpHandler(srv.url, 200).handle(rec), { outcome: 'retry', error: 'timed out after 200 ms' })
  const refused = await new HttpHandler('http://127.0.0.1:1/x', 2000).handle(rec)
  assert.equal(refused.outcome, 'retry')
})

test('http through a pass: a 503 stops the pass (exit 75), a 400 dead-letters, a 200 is done', async (t) => {
  const dir = await tempDir(t)
  let mode = 'down'
  const srv = await startServer(t, (_req, body) => {
    if (mode === 'down') return 503
    return body.includes('"sms_2"') ? 400 : 200
  })
  const recs = [deliveryRecord(1), deliveryRecord(2), deliveryRecord(3)]
  await writeSegment(dir, 1, lines(recs))
  const options = processorOptions(dir, { routes: [parseRoute(`delivery=${srv.url}`)], tries: 3 })
  assert.equal(await runProcessCommand(options, silentLogger(), noSignals), EXIT_TEMPFAIL)
  assert.equal(srv.received.length, 3, 'three tries within the pass')
  mode = 'up'
  assert.equal(await runProcessCommand(options, silentLogger(), noSignals), 0)
  const ids = srv.received.slice(3).map((r) => (JSON.parse(r.body) as { id: string }).id)
  assert.deepEqual(ids, recs.map((r) => r.id))
  const dead = await deadLetters(dir)
  assert.equal(dead.length, 1)
  assert.equal((dead[0]!.record as { id: string }).id, recs[1]!.id)
  assert.match(dead[0]!.error as string, /HTTP 400/)
})

test('module handler: default or handle export; return done, throw retry, permanent dead; through a pass', async (t) => {
  const dir = await tempDir(t)
  const mod = join(dir, 'handler.mjs')
  await writeFile(mod, `
import { appendFileSync } from 'node:fs'
export default async function (record) {
  if (record.fields.message_id === 'sms_2') throw Object.assign(new Error('no such customer'), { permanent: true })
  if (record.fields.message_id === 'sms_3' && !process.env.HEALED) throw new Error('database down')
  appendFileSync(${JSON.stringify(join(dir, 'seen'))}, record.id + '\\n')
}
`)
  const named = join(dir, 'named.mjs')
  await writeFile(named, 'export function handle (record) { return record.id }\n')
  const rec = await sample()
  assert.deepEqual(await (await ModuleHandler.load('module:', named, 5000)).handle(rec), { outcome: 'done' })
  const recs = [deliveryRecord(1), deliveryRecord(2), deliveryRecord(3), deliveryRecord(4)]
  await writeSegment(dir, 1, lines(recs))
  const options = processorOptions(dir, { routes: [parseRoute(`*=module:${mod}`)], tries: 2 })
  t.after(() => { delete process.env.HEALED })
  assert.equal(await runProcessCommand(options, silentLogger(), noSignals), EXIT_TEMPFAIL)
  assert.deepEqual((await readFile(join(dir, 'seen'), 'utf8')).trim().split('\n'), [recs[0]!.id])
  const dead = await deadLetters(dir)
  assert.equal(dead.length, 1)
  assert.equal((dead[0]!.record as { id: string }).id, recs[1]!.id)
  assert.equal(dead[0]!.error, 'no such customer')
  process.env.HEALED = '1'
  assert.equal(await runProcessCommand(options, silentLogger(), noSignals), 0)
  assert.deepEqual((await readFile(join(dir, 'seen'), 'utf8')).trim().split('\n'), [recs[0]!.id, recs[2]!.id, recs[3]!.id])
  const noExport = join(dir, 'none.mjs')
  await writeFile(noExport, 'export const x = 1\n')
  await assert.rejects(ModuleHandler.load('module:', noExport, 5000), { code: 'SPOOL_ERR_CONFIG' })
})

test('several targets for one kind must all succeed; a retry repeats them', async (t) => {
  const dir = await tempDir(t)
  const rec = deliveryRecord(1)
  await writeSegment(dir, 1, lines([rec]))
  const flag = join(dir, 'flag')
  const options = processorOptions(dir, {
    routes: [parseRoute(`delivery=file:${join(dir, 'a.ndjson')}`), parseRoute(`*=exec:test -e ${flag}`)],
    tries: 1,
  })
  assert.equal(await runProcessCommand(options, silentLogger(), noSignals), EXIT_TEMPFAIL)
  await writeFile(flag, '')
  assert.equal(await runProcessCommand(options, silentLogger(), noSignals), 0)
  // The file target saw it twice (it is idempotent by id); the second time both succeeded.
  const out = await readNdjson(join(dir, 'a.ndjson'))
  assert.deepEqual(out.map((r) => r.id), [rec.id, rec.id])
})
