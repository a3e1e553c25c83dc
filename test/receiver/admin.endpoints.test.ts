import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { pino } from 'pino'
import { createAdminServer } from '../../src/receiver/admin.js'
import { RECEIVE_DEFAULTS, startReceiver, type ReceiveOptions, type RunningReceiver } from '../../src/receiver/run.js'
import { parseBytes } from '../../src/units.js'
import { parseExposition, sampleValue } from '../helpers/prometheus-text.js'
import { makeTempDir, tempDir } from '../helpers/tmp.js'

const silent = pino({ level: 'silent' })

async function start (t: TestContext, options: Partial<ReceiveOptions> = {}): Promise<RunningReceiver & { dir: string, base: string, adminBase: string }> {
  const dir = await makeTempDir()
  const running = await startReceiver({ ...RECEIVE_DEFAULTS, host: '127.0.0.1', port: 0, adminPort: 0, dataDir: dir, ...options }, silent)
  t.after(async () => {
    await running.stop(500)
    await rm(dir, { recursive: true, force: true })
  })
  return {
    ...running,
    dir,
    base: `http://127.0.0.1:${running.address.port}`,
    adminBase: `http://127.0.0.1:${running.admin!.address.port}`,
  }
}

test('/healthz and /readyz answer 200 on a healthy receiver; unknown paths 404', async (t) => {
  const r = await start(t)
  assert.equal(r.admin!.address.address, '127.0.0.1')
  assert.notEqual(r.admin!.address.port, r.address.port)
  const health = await fetch(`${r.adminBase}/healthz`)
  assert.equal(health.status, 200)
  assert.equal(await health.text(), 'ok\n')
  const ready = await fetch(`${r.adminBase}/readyz`)
  assert.equal(ready.status, 200)
  assert.match(await ready.text(), /^ready/)
  assert.equal((await fetch(`${r.adminBase}/nope`)).status, 404)
  assert.equal((await fetch(`${r.adminBase}/metrics`, { method: 'POST', body: 'x' })).status, 405)
})

test('/readyz answers 503 with a reason when free disk is under --min-free', async (t) => {
  const r = await start(t, { minFreeBytes: parseBytes('--min-free', '1000TiB') })
  const res = await fetch(`${r.adminBase}/readyz`)
  assert.equal(res.status, 503)
  const reason = await res.text()
  assert.match(reason, /free disk .* is under --min-free 1000 TiB/)
  assert.equal(reason.split('\n').length, 2, 'one short line')
  // Liveness is a different question: the process is alive.
  assert.equal((await fetch(`${r.adminBase}/healthz`)).status, 200)
})

test('/readyz answers 503 when the spool directory is missing', async (t) => {
  const dir = await tempDir(t)
  const admin = createAdminServer({ spoolDir: join(dir, 'spool'), renderMetrics: async () => '', logger: silent })
  await new Promise<void>((resolve) => admin.listen(0, '127.0.0.1', resolve))
  t.after(() => admin.close())
  const { port } = admin.address() as { port: number }
  const res = await fetch(`http://127.0.0.1:${port}/readyz`)
  assert.equal(res.status, 503)
  assert.match(await res.text(), /spool directory not writable: ENOENT/)
})

test('/metrics is parseable and counts the requests sent', async (t) => {
  const r = await start(t)
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${r.base}/cb`, { method: 'POST', body: `message_id=${i}&status=DELIVERED` })
    assert.equal(res.status, 200)
  }
  assert.equal((await fetch(`${r.base}/cb`, { method: 'DELETE' })).status, 405)
  const res = await fetch(`${r.adminBase}/metrics`)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  const m = parseExposition(await res.text())
  assert.equal(sampleValue(m, 'callback_spool_requests_total', { status: '200' }), 3)
  assert.equal(sampleValue(m, 'callback_spool_requests_total', { status: '405' }), 1)
  assert.equal(sampleValue(m, 'callback_spool_records_spooled_total'), 3)
  const bodyBytes = [0, 1, 2].reduce((n, i) => n + `message_id=${i}&status=DELIVERED`.length, 0)
  assert.equal(sampleValue(m, 'callback_spool_received_bytes_total'), bodyBytes)
  assert.equal(sampleValue(m, 'callback_spool_batch_records_count'), 3, 'sequential requests: one batch each')
  assert.equal(sampleValue(m, 'callback_spool_batch_records_bucket', { le: '1' }), 3)
  assert.equal(sampleValue(m, 'callback_spool_fsync_seconds_count'), 3)
  assert.equal(sampleValue(m, 'callback_spool_segments_opened_total'), 1)
  assert.equal(sampleValue(m, 'callback_spool_segments'), 1)
  assert.ok(sampleValue(m, 'callback_spool_spool_bytes')! > bodyBytes, 'spool holds the three records')
  assert.equal(sampleValue(m, 'callback_spool_write_errors_total'), 0)
  assert.equal(sampleValue(m, 'callback_spool_connections_evicted_total'), 0)
  assert.equal(sampleValue(m, 'callback_spool_connections_refused_total'), 0)
  assert.equal(m.types.get('callback_spool_fsync_seconds'), 'histogram')
})

test('the callback port never serves the admin paths: they stay callbacks there', async (t) => {
  const r = await start(t)
  const get = await fetch(`${r.base}/metrics`)
  assert.equal(get.status, 200)
  assert.equal(await get.text(), '')
  const post = await fetch(`${r.base}/healthz`, { method: 'POST', body: 'a=1' })
  assert.equal(post.status, 200)
  assert.equal(await post.text(), '')
  assert.equal(r.server.stats.recordsSpooled, 1, 'the POST to /healthz was spooled as a callback')
})

test('without --admin-port there is no admin endpoint', async (t) => {
  const dir = await makeTempDir()
  const running = await startReceiver({ ...RECEIVE_DEFAULTS, host: '127.0.0.1', port: 0, dataDir: dir }, silent)
  t.after(async () => {
    await running.stop(500)
    await rm(dir, { recursive: true, force: true })
  })
  assert.equal(running.admin, undefined)
})
