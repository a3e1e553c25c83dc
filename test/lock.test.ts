import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, stat, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { pino } from 'pino'
import { acquireLock, isLockHeld, readLockInfo, tryAcquireLock } from '../src/spool/lock.js'
import { startReceiver, RECEIVE_DEFAULTS } from '../src/receiver/run.js'
import { LockHeldError } from '../src/errors.js'
import { tempDir } from './helpers/tmp.js'
import { killHard, runCli, startCliReceiver } from './helpers/cli.js'
import { send } from './helpers/http.js'

test('one holder per role and data dir; released on release()', async (t) => {
  const dir = await tempDir(t)
  const lock = await acquireLock(dir, 'receiver')
  assert.equal(await isLockHeld(dir, 'receiver'), true)
  assert.equal((await readLockInfo(dir, 'receiver'))?.pid, process.pid)
  assert.equal((await stat(join(dir, 'receiver.lock'))).mode & 0o777, 0o640)
  await assert.rejects(acquireLock(dir, 'receiver'), (err: unknown) => {
    assert.ok(err instanceof LockHeldError)
    assert.equal(err.code, 'SPOOL_ERR_LOCKED')
    assert.equal(err.exitCode, 75)
    assert.match(err.holder, new RegExp(`pid ${process.pid}`))
    return true
  })
  // The processor's lock is another role.
  const other = await tryAcquireLock(dir, 'processor')
  assert.ok(other !== undefined)
  await other.release()
  await lock.release()
  assert.equal(await isLockHeld(dir, 'receiver'), false)
  const again = await acquireLock(dir, 'receiver')
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
  const lock = await acquireLock(real, 'receiver')
  t.after(() => lock.release())
  await assert.rejects(acquireLock(link, 'receiver'), { code: 'SPOOL_ERR_LOCKED' })
})
