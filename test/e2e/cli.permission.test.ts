/**
 * A user who may not read the data dir gets exit 77 and one line naming the path and who may: the
 * checkpoint is never called bad, and `replay --all` (which would hand every record over again) is
 * never advised. The real CLI runs as `nobody` (the tests run as root, whom file modes do not stop),
 * or, for a user who is not root, as that user on files it made unreadable.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { chmod } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../helpers/tmp.js'
import { runCli } from '../helpers/cli.js'
import { runTool } from '../helpers/tool-io.js'
import { deliveryRecord, lines } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'

const asRoot = process.getuid?.() === 0
// setpriv (util-linux) drops to nobody for one command, with no group that could read the files.
const AS_OTHER_USER = asRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : []

/** A data dir with a segment and a checkpoint, made by the real processor, in a dir others may traverse. */
async function processedDataDir (t: TestContext): Promise<string> {
  const dir = await tempDir(t)
  await chmod(dir, 0o755)
  const data = join(dir, 'data')
  await writeSegment(data, 1, lines([deliveryRecord(1)]))
  assert.equal((await runTool(['process', '--data-dir', data])).code, 0)
  await chmod(data, 0o755)
  return data
}

async function runDenied (args: string[]): Promise<{ code: number | null, stderr: string }> {
  const cli = runCli(args, {}, AS_OTHER_USER)
  const { code } = await cli.exited
  return { code, stderr: cli.stderr() }
}

function assertPermissionLine (stderr: string, path: string, what: string): void {
  const errLines = stderr.trim().split('\n')
  assert.equal(errLines.length, 1, `${what}: ${stderr}`)
  assert.match(errLines[0]!, /permission denied/, what)
  assert.ok(errLines[0]!.includes(path), `${what} names ${path}: ${stderr}`)
  assert.match(errLines[0]!, /run the command as/, what)
  assert.doesNotMatch(errLines[0]!, /replay|checkpoint .*(not valid|does not name)|unexpected/, what)
}

test('a checkpoint this user may not read: process and status exit 77 and say so, never "replay --all"', async (t) => {
  const data = await processedDataDir(t)
  const state = join(data, 'state')
  // The spool stays readable; only the processor's state is shut.
  await chmod(join(data, 'spool'), 0o755)
  await chmod(state, asRoot ? 0o750 : 0o000)
  try {
    for (const command of ['process', 'status']) {
      const { code, stderr } = await runDenied([command, '--data-dir', data])
      assert.equal(code, 77, `${command}: ${stderr}`)
      // The state dir itself (listed for links when the lock is taken) or the checkpoint in it.
      assertPermissionLine(stderr, state, command)
    }
  } finally {
    // Before the temp dir is removed (its hook runs first), for a user who is not root.
    await chmod(state, 0o750)
  }
})

test('a data dir this user may not list: every command exits 77 with one line naming it', async (t) => {
  const data = await processedDataDir(t)
  await chmod(data, asRoot ? 0o750 : 0o000)
  try {
    for (const argv of [['process'], ['status'], ['cat'], ['verify'], ['dead', 'list']]) {
      const { code, stderr } = await runDenied([...argv, '--data-dir', data])
      assert.equal(code, 77, `${argv.join(' ')}: ${stderr}`)
      assertPermissionLine(stderr, data, argv.join(' '))
    }
  } finally {
    await chmod(data, 0o750)
  }
})
