import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ExecHandler } from '../../src/processor/handlers/exec.js'
import { isPlainProgram } from '../../src/processor/handlers/exec-shell.js'
import { parseRoute } from '../../src/processor/dispatch.js'
import { normaliseCallback, type NormalisedCallback } from '../../src/processor/normalise.js'
import { ZonedTimeReader } from '../../src/processor/provider-time.js'
import { runProcessCommand } from '../../src/processor/run.js'
import { tempDir } from '../helpers/tmp.js'
import { silentLogger } from '../helpers/logger.js'
import { deliveryRecord, fixtureRecord, lines } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { processorOptions } from '../helpers/processor.js'
import { waitFor } from '../helpers/wait.js'

async function sample (): Promise<NormalisedCallback> {
  return normaliseCallback(await fixtureRecord('optout-json.http'), new ZonedTimeReader('Europe/Paris'))
}

/** Whether the process runs (a zombie, ended but not yet reaped, does not). */
async function alive (pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

/** The pids of the running processes whose command line is exactly `argv`. */
async function pidsRunning (argv: string[]): Promise<number[]> {
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')
    if (cmdline === argv.join('\0') + '\0' && await alive(Number(entry))) pids.push(Number(entry))
  }
  return pids
}

/** Each line of `file`. */
async function linesOf (file: string): Promise<string[]> {
  return (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '')
}

function handler (t: TestContext, command: string, timeoutMs = 30_000): ExecHandler {
  const h = new ExecHandler('exec:', command, timeoutMs)
  t.after(() => h.close())
  return h
}

test('exec shell: a shell killed between records is replaced, the next record runs in a new one', async (t) => {
  const dir = await tempDir(t)
  const out = join(dir, 'shells')
  // `$$` in the command is the long-lived shell's pid.
  const h = handler(t, `echo $$ >> ${out}`)
  assert.deepEqual(await h.handle(await sample()), { outcome: 'done' })
  const [first] = await linesOf(out)
  process.kill(Number(first), 'SIGKILL')
  await waitFor('the shell to die', async () => !(await alive(Number(first))))
  assert.deepEqual(await h.handle(await sample()), { outcome: 'done' })
  const shells = await linesOf(out)
  assert.equal(shells.length, 2)
  assert.notEqual(shells[1], shells[0], 'another shell ran the second record')
})

test('exec shell: a shell that dies during a record: that record is retried, the next runs in a new shell', async (t) => {
  const dir = await tempDir(t)
  const once = join(dir, 'once')
  const done = join(dir, 'done')
  const h = handler(t, `if [ ! -e ${once} ]; then : > ${once}; kill -KILL $$; sleep 1; exit 0; fi; echo "$CALLBACK_ID" >> ${done}`)
  const rec = await sample()
  const first = await h.handle(rec)
  assert.equal(first.outcome, 'retry')
  assert.match((first as { error: string }).error, /the shell running the command ended \(SIGKILL\)/)
  assert.deepEqual(await h.handle(rec), { outcome: 'done' })
  assert.deepEqual(await linesOf(done), [rec.id])
})

test('exec shell: through a pass, a shell killed mid-record loses nothing: every record reaches the command', async (t) => {
  const dir = await tempDir(t)
  const recs = [deliveryRecord(1), deliveryRecord(2), deliveryRecord(3), deliveryRecord(4)]
  await writeSegment(dir, 1, lines(recs))
  const once = join(dir, 'once')
  const done = join(dir, 'done')
  const script = join(dir, 'h.sh')
  // The third record's first run kills the shell that runs it.
  await writeFile(script, `grep -q '"sms_3"' && [ ! -e ${once} ] && { : > ${once}; kill -KILL $PPID; sleep 1; exit 0; }\necho "$CALLBACK_ID" >> ${done}\n`)
  const options = processorOptions(dir, { routes: [parseRoute(`delivery=exec:sh ${script}`)], concurrency: 2 })
  assert.equal(await runProcessCommand(options, silentLogger(), () => {}), 0)
  assert.deepEqual((await linesOf(done)).sort(), recs.map((r) => r.id).sort())
  assert.equal((await readFile(once, 'utf8')), '', 'the shell was killed once')
})

test('exec shell: what a command changes in its shell (variables, directory, exit) does not reach the next record', async (t) => {
  const dir = await tempDir(t)
  const out = join(dir, 'seen')
  const h = handler(t, `echo "\${x:-unset} $(pwd)" >> ${out}; x=set; export y=set; cd /; exit 0`)
  assert.deepEqual(await h.handle(await sample()), { outcome: 'done' })
  assert.deepEqual(await h.handle(await sample()), { outcome: 'done' })
  assert.deepEqual(await linesOf(out), [`unset ${process.cwd()}`, `unset ${process.cwd()}`])
})

test('exec shell: records in flight side by side run in shells of their own, each ends at its command\'s exit', async (t) => {
  const dir = await tempDir(t)
  const out = join(dir, 'shells')
  const h = handler(t, `sleep 0.3; echo $$ >> ${out}`)
  const rec = await sample()
  const results = await Promise.all([h.handle(rec), h.handle(rec), h.handle(rec)])
  assert.deepEqual(results, [{ outcome: 'done' }, { outcome: 'done' }, { outcome: 'done' }])
  assert.equal(new Set(await linesOf(out)).size, 3)
})

test('exec shell: a plain program (no subshell) gets the record, the environment, and is killed at the timeout', async (t) => {
  const dir = await tempDir(t)
  const stdin = join(dir, 'stdin')
  const rec = await sample()
  // `tee FILE` is a plain program: run from the long-lived shell itself.
  assert.equal(isPlainProgram(`tee ${stdin}`, process.env), true)
  assert.deepEqual(await handler(t, `tee ${stdin}`).handle(rec), { outcome: 'done' })
  assert.equal(await readFile(stdin, 'utf8'), JSON.stringify(rec) + '\n')
  const env = join(dir, 'env')
  assert.deepEqual(await handler(t, `env > ${env}`).handle(rec), { outcome: 'done' })
  assert.match(await readFile(env, 'utf8'), new RegExp(`^CALLBACK_ID=${rec.id}$`, 'm'))
  const argv = ['sleep', '61.25']
  t.after(async () => { for (const pid of await pidsRunning(argv)) process.kill(pid, 'SIGKILL') })
  assert.deepEqual(await handler(t, argv.join(' '), 300).handle(rec), { outcome: 'retry', error: 'timed out after 300 ms' })
  await waitFor('the timed-out program to be killed', async () => (await pidsRunning(argv)).length === 0)
})

test('exec shell: only one program with plain words and redirections runs without a subshell', () => {
  for (const command of ['cat > /dev/null', 'cat>/dev/null', 'cat', '/usr/bin/env A=1 cat', './hook.sh --kind=x 2>&1 >>out.log']) {
    assert.equal(isPlainProgram(command, process.env), true, command)
  }
  const shellSyntax = ['cd /tmp', 'exit 3', 'echo hi', 'read -r x', 'if', 'A=1 cat', 'cat; exit', 'cat\nexit 3', 'cat &',
    'cat | cat', 'cat $HOME', "cat 'a'", 'cat ~', 'cat *', '2>x exit 3', 'cat # x', 'no-such-program-here']
  for (const command of shellSyntax) assert.equal(isPlainProgram(command, process.env), false, command)
})

test('exec shell: close ends the shells between records and waits for them', async (t) => {
  const dir = await tempDir(t)
  const out = join(dir, 'shells')
  const h = new ExecHandler('exec:', `echo $$ >> ${out}`, 30_000)
  assert.deepEqual(await h.handle(await sample()), { outcome: 'done' })
  const [shell] = await linesOf(out)
  assert.ok(await alive(Number(shell)))
  await h.close()
  // Waited for (and reaped): its CPU time, and its commands', counts as the processor's children's.
  assert.equal(existsSync(`/proc/${shell}`), false, 'exited and reaped when close resolves')
})

test('exec shell: the command\'s stderr, with or without a last newline, is told apart from the exit status', async (t) => {
  const rec = await sample()
  assert.deepEqual(await handler(t, 'printf \'no newline at the end\' >&2; exit 65').handle(rec),
    { outcome: 'dead', error: 'exit 65 (EX_DATAERR): no newline at the end' })
  const h = handler(t, 'printf \'%s 0\\n\' "$CALLBACK_ID" >&2; exit 3')
  assert.deepEqual(await h.handle(rec), { outcome: 'retry', error: `exit 3: ${rec.id} 0` })
  assert.deepEqual(await h.handle(rec), { outcome: 'retry', error: `exit 3: ${rec.id} 0` }, 'the next record\'s stderr starts after the last status')
})
