/**
 * The receiver at start: a port it cannot have and a data dir it cannot write are errors with a
 * sysexits code and one line saying what to do, never "listening" followed by 503s for ever.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { pino } from 'pino'
import { SpoolWriter } from '../../src/spool/writer.js'
import { BIN, REPO, runCli, withoutSpoolEnv } from '../helpers/cli.js'
import { makeTempDir, tempDir } from '../helpers/tmp.js'
import { dataLayout } from '../../src/spool/layout.js'

interface Outcome { code: number | null, stdout: string, stderr: string }

/** Runs `receive` until it exits; a receiver still running after 20 s (it listened) is killed and reported as such. */
async function receiveUntilExit (args: string[], spawnOptions: { uid?: number, gid?: number } = {}): Promise<Outcome> {
  const child = spawn(process.execPath, [BIN, 'receive', '--host', '127.0.0.1', ...args],
    { cwd: REPO, env: withoutSpoolEnv(process.env), stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c })
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c })
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  const [code] = await once(child, 'exit') as [number | null]
  clearTimeout(timer)
  return { code, stdout, stderr }
}

function oneLine (stderr: string): string {
  const lines = stderr.trim().split('\n')
  assert.equal(lines.length, 1, stderr)
  assert.doesNotMatch(lines[0]!, /unexpected error/)
  return lines[0]!
}

test('a port another program holds: exit 69 (EX_UNAVAILABLE), one line naming the cause and the flag to change', async (t) => {
  const dir = await tempDir(t)
  const squatter = createServer()
  squatter.listen(0, '127.0.0.1')
  await once(squatter, 'listening')
  t.after(() => squatter.close())
  const port = (squatter.address() as { port: number }).port

  const run = await receiveUntilExit(['--port', String(port), '--data-dir', dir])
  assert.equal(run.code, 69, run.stderr)
  const line = oneLine(run.stderr)
  assert.match(line, /EADDRINUSE/)
  assert.match(line, new RegExp(`127\\.0\\.0\\.1:${port}`))
  assert.match(line, /--port/)
  assert.doesNotMatch(run.stdout, /"msg":"listening/)

  const admin = await receiveUntilExit(['--port', '0', '--admin-port', String(port), '--data-dir', dir])
  assert.equal(admin.code, 69, admin.stderr)
  assert.match(oneLine(admin.stderr), /--admin-port/)
})

test('a data dir this user cannot write: exit 77 (EX_NOPERM) before listening, not 503 for ever', async (t) => {
  const dir = await makeTempDir()
  const dataDir = join(dir, 'data')
  // A data dir as a previous run left it, now owned by someone else (or read-only).
  const dirs = [dataDir, join(dataDir, 'spool')]
  await mkdir(dirs[1]!, { recursive: true })
  t.after(async () => {
    for (const d of dirs) await chmod(d, 0o755)
    await rm(dir, { recursive: true, force: true })
  })
  // root writes anywhere: run the receiver as nobody instead, on dirs it does not own.
  const asRoot = process.getuid?.() === 0
  await chmod(dir, 0o755)
  for (const d of dirs) await chmod(d, asRoot ? 0o755 : 0o555)
  const as = asRoot ? { uid: 65534, gid: 65534 } : {}

  const existing = await receiveUntilExit(['--port', '0', '--data-dir', dataDir], as)
  assert.equal(existing.code, 77, `${existing.stderr}${existing.stdout.slice(-500)}`)
  assert.match(oneLine(existing.stderr), /EACCES/)
  assert.doesNotMatch(existing.stdout, /"msg":"listening/)
  assert.deepEqual(await readdir(join(dataDir, 'spool')), [], 'nothing created')

  const missing = await receiveUntilExit(['--port', '0', '--data-dir', join(dataDir, 'sub')], as)
  assert.equal(missing.code, 77, missing.stderr)
  assert.match(oneLine(missing.stderr), /--data-dir/)
})

test('a data dir on a read-only file system, or a file in its place: exit 73 (EX_CANTCREAT)', async (t: TestContext) => {
  // Hooks run in the order they are added: unmount before the temp dir is removed.
  const dir = await makeTempDir()
  let mounted = false
  t.after(async () => {
    if (mounted) execFileSync('umount', ['-l', join(dir, 'ro')])
    await rm(dir, { recursive: true, force: true })
  })
  await writeFile(join(dir, 'file'), '')
  const file = await receiveUntilExit(['--port', '0', '--data-dir', join(dir, 'file')])
  assert.equal(file.code, 73, file.stderr)
  assert.match(oneLine(file.stderr), /file stands where a directory should be/)

  const ro = join(dir, 'ro')
  await mkdir(ro)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', ro], { stdio: 'pipe' })
    mounted = true
  } catch (err) {
    t.skip(`cannot mount a read-only tmpfs here: ${(err as Error).message}`)
    return
  }
  const run = await receiveUntilExit(['--port', '0', '--data-dir', ro])
  assert.equal(run.code, 73, `${run.stderr}${run.stdout.slice(-500)}`)
  assert.match(oneLine(run.stderr), /read-only file system \(EROFS\)/)
})

test('a normal start listens and leaves no write-check file behind', async (t) => {
  const dir = await tempDir(t)
  const cli = runCli(['receive', '--host', '127.0.0.1', '--port', '0', '--data-dir', dir])
  t.after(async () => {
    cli.child.kill('SIGKILL')
    await cli.exited
  })
  while (!cli.stdout().includes('"msg":"listening')) {
    if (cli.child.exitCode !== null) assert.fail(cli.stderr())
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  for (const d of [dir, join(dir, 'spool')]) {
    assert.deepEqual((await readdir(d)).filter((f) => f.startsWith('.write-check')), [], `no probe file left in ${d}`)
  }
})

test('restarts that spool nothing leave one empty segment, not one each; a record then goes into it', async (t) => {
  const dir = await tempDir(t)
  for (let i = 0; i < 3; i++) {
    const cli = runCli(['receive', '--host', '127.0.0.1', '--port', '0', '--data-dir', dir])
    while (!cli.stdout().includes('"msg":"listening')) {
      if (cli.child.exitCode !== null) assert.fail(cli.stderr())
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    cli.child.kill('SIGTERM')
    assert.equal((await cli.exited).code, 0, cli.stderr())
  }
  const segments = (await readdir(join(dir, 'spool'))).filter((name) => name.endsWith('.ndjson'))
  assert.equal(segments.length, 1, segments.join(', '))
  const mtime = (await stat(join(dir, 'spool', segments[0]!))).mtimeMs

  const writer = await SpoolWriter.open({ layout: dataLayout(dir), logger: pino({ level: 'silent' }) })
  assert.equal(writer.currentSegment, segments[0])
  assert.equal((await stat(join(dir, 'spool', segments[0]!))).mtimeMs, mtime, 'a restart does not touch it')
  await writer.append('{"n":1}\n')
  await writer.close()
  assert.equal(await readFile(join(dir, 'spool', segments[0]!), 'utf8'), '{"n":1}\n')
  // Not empty any more: the next start opens a new segment after it.
  const next = await SpoolWriter.open({ layout: dataLayout(dir), logger: pino({ level: 'silent' }) })
  t.after(() => next.close())
  assert.ok(next.currentSegment !== undefined && next.currentSegment > segments[0]!)
})
