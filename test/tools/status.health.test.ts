import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startReceiver, RECEIVE_DEFAULTS } from '../../src/receiver/run.js'
import { runProcessCommand, EXIT_TEMPFAIL } from '../../src/processor/run.js'
import { parseRoute } from '../../src/processor/dispatch.js'
import { tempDir } from '../helpers/tmp.js'
import { silentLogger } from '../helpers/logger.js'
import { deliveryRecord, lines } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { send } from '../helpers/http.js'
import { runTool } from '../helpers/tool-io.js'
import { processorOptions } from '../helpers/processor.js'
import { waitFor } from '../helpers/wait.js'

test('status: the last callback spooled is read from the newest segment with a line, not the mtime of the empty segment a restart opens', async (t) => {
  const dir = await tempDir(t)
  const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000)
  const record = deliveryRecord(1, twoHoursAgo)
  await writeSegment(dir, 1, lines([record]))
  // A receiver restarted just now: a new, empty segment.
  await writeSegment(dir, 2, '')
  const { out } = await runTool(['status', '--data-dir', dir])
  assert.match(out, new RegExp(`^last spooled 2\\.0 h ago: record ${record.id}$`, 'm'))
  assert.doesNotMatch(out, /newest written \d+ s ago/)
})

test('status: what the running receiver answered by status code, the stuck record in one line, and --check exit codes 0, 1, 2', async (t) => {
  const dir = await tempDir(t)
  const receiver = await startReceiver({ ...RECEIVE_DEFAULTS, port: 0, host: '127.0.0.1', dataDir: dir, maxBodyBytes: 2000 }, silentLogger())
  let stopped = false
  t.after(async () => { if (!stopped) await receiver.stop(0) })
  const port = receiver.address.port
  const ok = await send(port, { path: '/callbacks', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message_id: 'sms_1', number: '+33600112233', status: 'DELIVERED' }) })
  assert.equal(ok.status, 200)
  const tooBig = await send(port, { path: '/callbacks', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(5000) })
  assert.equal(tooBig.status, 413)
  // The receiver rewrites its figures every few seconds.
  await waitFor('the 413 in state/receiver-answers.json', async () => {
    try {
      return JSON.parse(await readFile(join(dir, 'state', 'receiver-answers.json'), 'utf8')).last_5m['413'] === 1
    } catch {
      return false
    }
  }, 30_000, 200)
  const healthy = await runTool(['status', '--check', '--data-dir', dir, '--min-free', '1B'])
  assert.deepEqual(healthy, { code: 0, out: 'healthy\n' })
  const status = await runTool(['status', '--data-dir', dir, '--min-free', '1B'])
  assert.match(status.out, /^answered {5}last 5 min: 200 x1, 413 x1; since start: 200 x1, 413 x1 \(as of \d+ s ago\)$/m)
  assert.doesNotMatch(status.out, /^stuck/m)

  // A target that keeps failing: the pass stops before the record.
  const options = processorOptions(dir, { routes: [parseRoute('*=exec:echo "upstream said no" >&2; exit 1')], tries: 1, deadAfterMs: 3_600_000 })
  assert.equal(await runProcessCommand(options, silentLogger(), () => {}), EXIT_TEMPFAIL)
  const degraded = await runTool(['status', '--check', '--data-dir', dir, '--min-free', '1B'])
  assert.equal(degraded.code, 1)
  assert.match(degraded.out, /^degraded: record \S+ is stuck: exec:echo .* keeps failing\n$/)
  const stuck = await runTool(['status', '--data-dir', dir, '--min-free', '1B'])
  assert.match(stuck.out, /^stuck {8}record \S+ \(\w+\) at exec:echo .*: exit 1: upstream said no; attempt 1 of 5, failing since \d+ s ago, dead-lettered from \d{4}-/m)

  // The disk under --min-free, then no receiver at all: down.
  const full = await runTool(['status', '--check', '--data-dir', dir, '--min-free', '1000TiB'])
  assert.equal(full.code, 2)
  assert.match(full.out, /^down: free disk .* is under --min-free/)
  await receiver.stop(0)
  stopped = true
  const down = await runTool(['status', '--check', '--data-dir', dir, '--min-free', '1B'])
  assert.equal(down.code, 2)
  assert.match(down.out, /^down: no receiver is running/)
})
