import { test } from 'node:test'
import assert from 'node:assert/strict'
import { realpath } from 'node:fs/promises'
import { type Command, CommanderError } from 'commander'
import { pino } from 'pino'
import { createProgram } from '../../src/cli.js'
import { UsageError } from '../../src/errors.js'
import { tempDir } from '../helpers/tmp.js'
import { killHard, runCli, startCliReceiver, waitListening } from '../helpers/cli.js'
import { readRecords, readSpool } from '../helpers/spool.js'
import { send } from '../helpers/http.js'
import { rawExchange } from '../helpers/raw-socket.js'

/** The program with exits and output captured on every command (subcommands copy neither after creation). */
function inProcess (): { program: Command, out: () => string, err: () => string } {
  let out = ''
  let err = ''
  const program = createProgram({ logger: pino({ level: 'silent' }), onSignal: () => {} })
  const configure = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({ writeOut: (s) => { out += s }, writeErr: (s) => { err += s } })
    for (const sub of cmd.commands) configure(sub)
  }
  configure(program)
  return { program, out: () => out, err: () => err }
}

test('in process: --help is a CommanderError with exit code 0 and prints the usage', async () => {
  const { program, out } = inProcess()
  await assert.rejects(program.parseAsync(['--help'], { from: 'user' }), (err: unknown) => {
    assert.ok(err instanceof CommanderError)
    assert.equal(err.code, 'commander.helpDisplayed')
    assert.equal(err.exitCode, 0)
    return true
  })
  assert.match(out(), /receive/)
  const sub = inProcess()
  await assert.rejects(sub.program.parseAsync(['receive', '--help'], { from: 'user' }), { code: 'commander.helpDisplayed', exitCode: 0 })
  assert.match(sub.out(), /--max-body/)
})

test('in process: a bad option value is a coded error', async () => {
  const choice = inProcess()
  await assert.rejects(choice.program.parseAsync(['receive', '--durability', 'sometimes'], { from: 'user' }), (err: unknown) => {
    assert.ok(err instanceof CommanderError)
    assert.equal(err.code, 'commander.invalidArgument')
    return true
  })
  const unknown = inProcess()
  await assert.rejects(unknown.program.parseAsync(['receive', '--no-such-option'], { from: 'user' }), { code: 'commander.unknownOption' })
  for (const [flag, value] of [['--max-body', 'nonsense'], ['--port', '70000'], ['--rotate-age', 'soon'], ['--request-timeout', '-1s'], ['--max-connections', '0'], ['--max-connections-per-address', '0'], ['--first-byte-timeout', 'soon']]) {
    const { program } = inProcess()
    await assert.rejects(program.parseAsync(['receive', flag!, value!, '--data-dir', '/nonexistent/never-created'], { from: 'user' }), (err: unknown) => {
      // On the command line: bad usage (64); the same value from the environment or a file is 78.
      assert.ok(err instanceof UsageError, `${flag} ${value}`)
      assert.equal(err.code, 'SPOOL_ERR_USAGE')
      assert.equal(err.exitCode, 64)
      return true
    })
  }
})

test('every receive option also reads CALLBACK_SPOOL_<NAME>', () => {
  const receive = createProgram().commands.find((c) => c.name() === 'receive')
  assert.ok(receive !== undefined)
  const names = receive.options.map((o) => o.long!)
  for (const name of ['--host', '--port', '--data-dir', '--max-body', '--durability', '--rotate-bytes', '--rotate-age', '--request-timeout']) {
    assert.ok(names.includes(name), name)
  }
  for (const option of receive.options) {
    const expected = `CALLBACK_SPOOL_${option.long!.slice(2).replace(/-/g, '_').toUpperCase()}`
    assert.equal(option.envVar, expected, option.long)
  }
})

test('spawned: a bad value exits 64 with one line and no stack; --verbose shows the stack', async () => {
  const bad = runCli(['receive', '--max-body', 'nonsense', '--data-dir', '/nonexistent/never-created'])
  assert.equal((await bad.exited).code, 64)
  const lines = bad.stderr().trimEnd().split('\n')
  assert.equal(lines.length, 1, bad.stderr())
  assert.match(lines[0]!, /^callback-spool: .*--max-body/)
  assert.doesNotMatch(bad.stderr(), /\n\s+at /)

  const verbose = runCli(['--verbose', 'receive', '--max-body', 'nonsense', '--data-dir', '/nonexistent/never-created'])
  assert.equal((await verbose.exited).code, 64)
  assert.match(verbose.stderr(), /\n\s+at /)

  const usage = runCli(['receive', '--durability', 'sometimes'])
  assert.equal((await usage.exited).code, 64, usage.stderr())
  assert.doesNotMatch(usage.stderr(), /\n\s+at /)

  const help = runCli(['receive', '--help'])
  assert.equal((await help.exited).code, 0)
  assert.match(help.stdout(), /--data-dir/)
})

test('spawned: the listening line names the address and the data dir', async (t) => {
  const dir = await tempDir(t)
  const cli = await startCliReceiver(dir)
  t.after(() => killHard(cli))
  const line = cli.stdout().split('\n').find((l) => l.includes('"port"'))
  assert.ok(line !== undefined)
  const entry = JSON.parse(line) as Record<string, unknown>
  assert.equal(entry.address, '127.0.0.1')
  assert.equal(entry.port, cli.port)
  assert.equal(entry.data_dir, await realpath(dir))
})

test('spawned: options come from CALLBACK_SPOOL_<NAME>, and flags win', async (t) => {
  const dir = await tempDir(t)
  const fromEnv = await startCliReceiver(dir, [], { CALLBACK_SPOOL_MAX_BODY: '10' })
  t.after(() => killHard(fromEnv))
  assert.equal((await send(fromEnv.port, { body: '0123456789' })).status, 200)
  assert.equal((await send(fromEnv.port, { body: '0123456789A' })).status, 413)
  fromEnv.child.kill('SIGTERM')
  assert.equal((await fromEnv.exited).code, 0)

  const flagWins = await startCliReceiver(dir, ['--max-body', '20'], { CALLBACK_SPOOL_MAX_BODY: '10' })
  t.after(() => killHard(flagWins))
  assert.equal((await send(flagWins.port, { body: '0123456789A' })).status, 200)
  assert.equal((await send(flagWins.port, { body: '0123456789ABCDEFGHIJK' })).status, 413)

  // Host, port and data dir from the environment alone.
  const envDir = await tempDir(t)
  const onlyEnv = await waitListening(runCli(['receive'], { CALLBACK_SPOOL_HOST: '127.0.0.1', CALLBACK_SPOOL_PORT: '0', CALLBACK_SPOOL_DATA_DIR: envDir }))
  t.after(() => killHard(onlyEnv))
  assert.equal((await send(onlyEnv.port, { body: 'id=env' })).status, 200)
  assert.deepEqual((await readRecords(envDir)).map((r) => r.fields.id), ['env'])
})

test('spawned: --request-timeout, --rotate-bytes and --durability reach the receiver', async (t) => {
  const dir = await tempDir(t)
  const cli = await startCliReceiver(dir, ['--request-timeout', '1s', '--rotate-bytes', '2KiB', '--durability', 'os'])
  t.after(() => killHard(cli))
  const stalled = await rawExchange(cli.port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nid=', 10_000)
  assert.ok(stalled.closedAfterMs < 1000 + 1500, `closed after ${stalled.closedAfterMs} ms`)
  for (let i = 0; i < 20; i++) assert.equal((await send(cli.port, { body: `id=${i}&pad=${'x'.repeat(300)}` })).status, 200)
  const { segments, lines } = await readSpool(dir)
  assert.equal(lines.length, 20)
  assert.ok(segments.length >= 3, `${segments.length} segments`)
})
