import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { chmod, mkdir, readFile, realpath, stat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { collectStatus, formatStatus } from '../../src/tools/status.js'
import { deliveryRecord, lines } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { waitFor } from '../helpers/wait.js'
import { pino } from 'pino'
import { acquireLock, isLockHeld, readLockInfo, tryAcquireLock } from '../../src/spool/lock.js'
import { startReceiver, RECEIVE_DEFAULTS } from '../../src/receiver/run.js'
import { LockHeldError } from '../../src/errors.js'
import { tempDir } from '../helpers/tmp.js'
import { killHard, runCli, startCliReceiver } from '../helpers/cli.js'
import { send } from '../helpers/http.js'
import { dataLayout } from '../../src/spool/layout.js'

test('one holder per role and data dir; released on release()', async (t) => {
  const dir = await tempDir(t)
  const lock = await acquireLock(dataLayout(dir), 'receiver')
  assert.equal(await isLockHeld(dataLayout(dir), 'receiver'), true)
  assert.equal((await readLockInfo(dataLayout(dir), 'receiver'))?.pid, process.pid)
  // Only the data dir's owner may open it, and so take the lock.
  assert.equal((await stat(join(dir, 'receiver.lock'))).mode & 0o777, 0o600)
  await assert.rejects(acquireLock(dataLayout(dir), 'receiver'), (err: unknown) => {
    assert.ok(err instanceof LockHeldError)
    assert.equal(err.code, 'SPOOL_ERR_LOCKED')
    assert.equal(err.exitCode, 75)
    assert.match(err.holder, new RegExp(`pid ${process.pid}`))
    return true
  })
  // The processor's lock is another role.
  const other = await tryAcquireLock(dataLayout(dir), 'processor')
  assert.ok(other !== undefined)
  await other.release()
  await lock.release()
  assert.equal(await isLockHeld(dataLayout(dir), 'receiver'), false)
  const again = await acquireLock(dataLayout(dir), 'receiver')
  await again.release()
})

test('a second receiver on the same data dir is refused', async (t) => {
  const dir = await tempDir(t)
  const logger = pino({ level: 'silent' })
  const options = { ...RECEIVE_DEFAULTS, host: '127.0.0.1', port: 0, dataDir: dir }
  const first = await startReceiver(options, logger)
  t.after(() => first.stop(100))
  await assert.rejects(startReceiver(options, logger), { code: 'SPOOL_ERR_LOCKED' })
  assert.equal((await send(first.address.port, { body: 'a=1' })).status, 200)
})

test('CLI: a second receiver exits 75 with one line; after SIGKILL of the holder the lock is taken over at once', async (t) => {
  const dir = await tempDir(t)
  const first = await startCliReceiver(dir)
  t.after(() => killHard(first))
  assert.equal((await send(first.port, { body: 'id=before' })).status, 200)

  const refused = runCli(['receive', '--host', '127.0.0.1', '--port', '0', '--data-dir', dir])
  const { code } = await refused.exited
  assert.equal(code, 75)
  const errLines = refused.stderr().trim().split('\n')
  assert.equal(errLines.length, 1, refused.stderr())
  assert.match(errLines[0]!, /another receiver is already running/)

  first.child.kill('SIGKILL')
  await first.exited
  // Started immediately: no stale lock to wait out.
  const second = await startCliReceiver(dir)
  t.after(() => killHard(second))
  assert.equal((await send(second.port, { body: 'id=after' })).status, 200)
})

test('the lock follows the real path: a symlink to a locked data dir is refused', async (t) => {
  const dir = await tempDir(t)
  const real = join(dir, 'real')
  const link = join(dir, 'link')
  await mkdir(real)
  await symlink(real, link)
  const lock = await acquireLock(dataLayout(real), 'receiver')
  t.after(() => lock.release())
  await assert.rejects(acquireLock(dataLayout(link), 'receiver'), { code: 'SPOOL_ERR_LOCKED' })
})

/** The name an earlier version used for a lock: an abstract socket anyone on the host could bind. */
async function oldSocketName (dir: string, role: string): Promise<string> {
  return `\0callback-spool/${role}/${createHash('sha256').update(await realpath(dir)).digest('hex').slice(0, 32)}`
}

/** Runs a command as another local user (nobody); resolves with its exit code. */
async function runAsNobody (command: string, args: string[]): Promise<number | null> {
  const child = spawn(command, args, { uid: 65534, gid: 65534, cwd: '/', stdio: 'ignore' })
  const [code] = await once(child, 'exit') as [number | null]
  return code
}

test('another local user can neither squat nor take the locks: receive, process and status go on', async (t) => {
  const dir = await tempDir(t)
  // Others may reach the data dir's files by name (as with a shared parent): the lock must still be the owner's.
  await chmod(dir, 0o711)
  // The squatter binds the names an earlier version's locks had, as another user.
  const names = [await oldSocketName(dir, 'receiver'), await oldSocketName(dir, 'processor')]
  const squatter = spawn(process.execPath, ['-e', `
    const net = require('node:net')
    let n = 0
    for (const path of ${JSON.stringify(names)}) net.createServer().listen({ path, exclusive: true }, () => { if (++n === 2) console.log('bound') })
  `], { uid: 65534, gid: 65534, cwd: '/', stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => squatter.kill('SIGKILL'))
  await once(squatter.stdout!, 'data')

  const receiver = await startCliReceiver(dir)
  t.after(() => killHard(receiver))
  assert.equal((await send(receiver.port, { body: 'MessageSid=SM1&MessageStatus=delivered&To=%2B33600000001' })).status, 200)
  // Nor can that user take the lock files: it may not open (or create) them.
  assert.notEqual(await runAsNobody('flock', ['-n', join(dir, 'receiver.lock'), 'true']), 0)
  assert.notEqual(await runAsNobody('flock', ['-n', join(dir, 'processor.lock'), 'sleep', '30']), 0)

  const status = runCli(['status', '--json', '--data-dir', dir])
  assert.equal((await status.exited).code, 0, status.stderr())
  const s = JSON.parse(status.stdout())
  assert.equal(s.receiver.running, true)
  assert.equal(s.receiver.identified, true)
  assert.equal(s.receiver.pid, receiver.pid)
  assert.match(s.receiver.command, /callback-spool\.js receive$/)
  assert.equal(s.processor.running, false)

  const processor = runCli(['process', '--data-dir', dir])
  assert.equal((await processor.exited).code, 0, processor.stderr())
  assert.match(processor.stdout(), /pass done: 1 records/)
  assert.doesNotMatch(processor.stdout(), /another processor/)
})

test('status tells a holder it can identify (pid, command) from one it cannot', async (t) => {
  const dir = await tempDir(t)
  const lock = await acquireLock(dataLayout(dir), 'processor')
  let s = await collectStatus(dataLayout(dir))
  assert.equal(s.processor.running, true)
  assert.equal(s.processor.identified, true)
  assert.equal(s.processor.pid, process.pid)
  assert.match(s.processor.command ?? '', /^node\b/)
  assert.match(formatStatus(s), new RegExp(`processor    running, pid ${process.pid} \\(node[^)]*\\) on `))
  await lock.release()

  // A process of the owner's that holds the lock without recording itself: flock(1) itself.
  const holder = spawn('flock', ['-x', join(dir, 'processor.lock'), 'sleep', '60'], { stdio: 'ignore' })
  t.after(() => holder.kill('SIGKILL'))
  await waitFor('the lock held by flock(1)', () => isLockHeld(dataLayout(dir), 'processor'), 10_000)
  s = await collectStatus(dataLayout(dir))
  assert.equal(s.processor.running, true)
  assert.equal(s.processor.identified, false)
  assert.equal(s.processor.pid, null)
  assert.match(formatStatus(s), /processor {4}running, holder unidentified: no readable record of the holder; find it with `fuser -v .*processor\.lock` as root/)

  // A holder that recorded someone else (a stale or forged record): not believed either.
  await writeFile(join(dir, 'processor.lock'), JSON.stringify({ pid: process.pid, hostname: 'x', started_at: new Date().toISOString() }))
  s = await collectStatus(dataLayout(dir))
  assert.equal(s.processor.identified, false)
  assert.match(s.processor.note ?? '', new RegExp(`not the recorded pid ${process.pid} on x`))
  await assert.rejects(acquireLock(dataLayout(dir), 'processor'), (err: unknown) => {
    assert.ok(err instanceof LockHeldError)
    assert.match(err.message, /holder unidentified/)
    return true
  })
})

test('kill -9 of a processor frees its lock at once, even with its handler still running', async (t) => {
  const dir = await tempDir(t)
  await writeSegment(dir, 1, lines([deliveryRecord(1)]))
  const handlerPid = join(dir, 'handler.pid')
  // The handler outlives the processor: it must not have inherited the lock.
  const first = runCli(['process', '--data-dir', dir, '--handler-timeout', '60s', '--on', `*=exec:cat > /dev/null; echo $$ > ${handlerPid}; exec sleep 60`])
  t.after(async () => {
    first.child.kill('SIGKILL')
    const pid = Number(await readFile(handlerPid, 'utf8').catch(() => ''))
    if (pid > 0) try { process.kill(pid, 'SIGKILL') } catch {}
  })
  await waitFor('the handler running', async () => (await readFile(handlerPid, 'utf8').catch(() => '')).endsWith('\n'), 20_000)
  const refused = runCli(['process', '--data-dir', dir])
  assert.equal((await refused.exited).code, 0)
  assert.match(refused.stdout(), /another processor is running/)

  first.child.kill('SIGKILL')
  await first.exited
  const second = runCli(['process', '--data-dir', dir, '--on', `*=file:${join(dir, 'got.ndjson')}`])
  assert.equal((await second.exited).code, 0, second.stderr())
  assert.match(second.stdout(), /pass done: 1 records/)
  assert.equal((await readFile(join(dir, 'got.ndjson'), 'utf8')).split('\n').length, 2)
})
