import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { Command, CommanderError } from 'commander'
import { installConfig } from '../../src/config.js'
import { createProgram } from '../../src/cli.js'
import { ConfigError } from '../../src/errors.js'
import { tempDir } from '../helpers/tmp.js'
import { BIN } from '../helpers/cli.js'

async function configFile (t: TestContext, content: unknown): Promise<string> {
  const path = join(await tempDir(t), 'config.json')
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content))
  return path
}

function withEnv (t: TestContext, vars: Record<string, string>): void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]))
  Object.assign(process.env, vars)
  t.after(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  })
}

/** A program with one subcommand whose action records what it got, configured like the real one. */
function probeProgram (): { program: Command, seen: Array<Record<string, unknown>> } {
  const seen: Array<Record<string, unknown>> = []
  const program = new Command('callback-spool').exitOverride()
  program.command('probe')
    .option('--alpha <v>', 'a', 'default-a')
    .option('--beta-value <v>', 'b', 'default-b')
    .option('--gamma <v>', 'c', 'default-c')
    .option('--delta <v>', 'd', 'default-d')
    .option('--flag', 'a boolean')
    .option('--item <v>', 'repeatable', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .action((opts: Record<string, unknown>) => { seen.push(opts) })
  program.command('other').option('--other-only <v>', 'known to another command').action(() => {})
  installConfig(program)
  return { program, seen }
}

test('precedence: flags > CALLBACK_SPOOL_* env > config file > defaults, for any command', async (t) => {
  const path = await configFile(t, { alpha: 'file-a', 'beta-value': 'file-b', gamma: 'file-c', flag: true, item: ['x', 'y'], otherOnly: 'ignored here' })
  withEnv(t, { CALLBACK_SPOOL_ALPHA: 'env-a', CALLBACK_SPOOL_BETA_VALUE: 'env-b' })
  const { program, seen } = probeProgram()
  await program.parseAsync(['--config', path, 'probe', '--alpha', 'flag-a'], { from: 'user' })
  assert.deepEqual(seen[0], {
    alpha: 'flag-a', // flag beats env and file
    betaValue: 'env-b', // env beats file (kebab-case key in the file)
    gamma: 'file-c', // file beats default
    delta: 'default-d', // default when nothing else
    flag: true,
    item: ['x', 'y'], // arrays go through the option's own parser
  })
  const probe = program.commands.find((c) => c.name() === 'probe')!
  assert.equal(probe.getOptionValueSource('gamma'), 'config')
})

test('the config file may also come from CALLBACK_SPOOL_CONFIG, and --config may follow the subcommand', async (t) => {
  const path = await configFile(t, { gamma: 'from-env-file' })
  withEnv(t, { CALLBACK_SPOOL_CONFIG: path })
  const first = probeProgram()
  await first.program.parseAsync(['probe'], { from: 'user' })
  assert.equal(first.seen[0]!.gamma, 'from-env-file')
  const other = await configFile(t, { gamma: 'from-flag-file' })
  const second = probeProgram()
  await second.program.parseAsync(['probe', '--config', other], { from: 'user' })
  assert.equal(second.seen[0]!.gamma, 'from-flag-file')
})

test('config file mistakes: every one named in one ConfigError (exit 78)', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ nope: 1 }, /unknown key `nope`/],
    [{ flag: 'yes' }, /`flag` must be true or false, got "yes" \(string\)/],
    [{ alpha: { x: 1 } }, /`alpha` must be a string or a number/],
    [{ alpha: 'a', gamma: 1, beta_value: 2 }, /unknown key `beta_value`/],
    [{ alpha: 'x', Alpha: 'y', nope: 1, other: 2 }, /unknown key `Alpha`.*unknown key `nope`.*unknown key `other`/],
    [[1, 2], /must hold one JSON object/],
    ['{ not json', /not valid JSON/],
  ]
  for (const [content, message] of cases) {
    const path = await configFile(t, content)
    const { program, seen } = probeProgram()
    await assert.rejects(program.parseAsync(['--config', path, 'probe'], { from: 'user' }), (err: unknown) => {
      assert.ok(err instanceof ConfigError, `${JSON.stringify(content)}: ${String(err)}`)
      assert.equal(err.exitCode, 78)
      assert.match(err.message, message)
      assert.doesNotMatch(err.message, /\n/)
      return true
    })
    assert.equal(seen.length, 0, 'the action never ran')
  }
  const { program } = probeProgram()
  await assert.rejects(program.parseAsync(['--config', '/nonexistent/cs.json', 'probe'], { from: 'user' }),
    (err: unknown) => err instanceof ConfigError && /cannot read config file .*ENOENT/.test(err.message))
})

test('a key both camelCase and kebab-case is refused', async (t) => {
  const path = await configFile(t, '{"betaValue": "1", "beta-value": "2"}')
  const { program } = probeProgram()
  await assert.rejects(program.parseAsync(['--config', path, 'probe'], { from: 'user' }), /given twice/)
})

test('`config --json` prints the effective receive options, secrets masked', async (t) => {
  const path = await configFile(t, { port: 9001, 'max-body': '1MiB', dataDir: '/srv/cs' })
  withEnv(t, { CALLBACK_SPOOL_PORT: '9002' })
  let out = ''
  const program = createProgram({ stdout: (text) => { out += text } }).exitOverride()
  // A secret-looking option, as the security options will add: it must never be printed.
  program.commands.find((c) => c.name() === 'receive')!.option('--auth-token <t>', 'test only')
  withEnv(t, { CALLBACK_SPOOL_AUTH_TOKEN: 's3cret' })
  await program.parseAsync(['--config', path, 'config', '--json'], { from: 'user' })
  const config = JSON.parse(out) as Record<string, Record<string, unknown>>
  assert.equal(config.receive!.port, '9002', 'env beats the file')
  assert.equal(config.receive!.maxBody, '1MiB')
  assert.equal(config.receive!.dataDir, '/srv/cs')
  assert.equal(config.receive!.durability, 'fsync', 'defaults shown')
  assert.equal(config.receive!.authToken, '****')
  assert.doesNotMatch(out, /s3cret/)
})

test('`config` refuses an invalid value with the option named', async (t) => {
  const path = await configFile(t, { rotateAge: 'soon' })
  const program = createProgram({ stdout: () => {} }).exitOverride()
  await assert.rejects(program.parseAsync(['--config', path, 'config'], { from: 'user' }),
    (err: unknown) => err instanceof ConfigError && /receive: Expected `--rotate-age` to be a duration/.test(err.message))
})

test('unknown flags stay usage errors (64), not configuration errors', async () => {
  const program = createProgram({ stdout: () => {} })
  program.commands.find((c) => c.name() === 'config')!.exitOverride().configureOutput({ writeErr: () => {} })
  await assert.rejects(program.parseAsync(['config', '--nope'], { from: 'user' }), (err: unknown) => err instanceof CommanderError)
  const run = spawnSync(process.execPath, [BIN, 'config', '--nope'], { encoding: 'utf8' })
  assert.equal(run.status, 64, run.stderr)
})

test('the real CLI: text report with sources; bad value and unknown key exit 78 with one line', async (t) => {
  const dir = await tempDir(t)
  const good = join(dir, 'good.json')
  await writeFile(good, JSON.stringify({ 'rotate-bytes': '1MiB' }))
  const env = { ...process.env, CALLBACK_SPOOL_ROTATE_AGE: '5m' }
  const ok = spawnSync(process.execPath, [BIN, '--config', good, 'config'], { env, encoding: 'utf8' })
  assert.equal(ok.status, 0, ok.stderr)
  assert.match(ok.stdout, /--rotate-bytes +1MiB +config file/)
  assert.match(ok.stdout, /--rotate-age +5m +env CALLBACK_SPOOL_ROTATE_AGE/)
  assert.match(ok.stdout, /--port +8080 +default/)

  for (const [content, message] of [
    [{ port: 'eighty' }, /^callback-spool: .*`port`.*eighty.*key in config file/],
    [{ prot: 8080 }, /^callback-spool: config file .*unknown key `prot`/],
    [{ port: 'eighty', 'max-body': 'big' }, /`port`.*eighty.*; .*`max-body`.*big/],
  ] as const) {
    const path = join(dir, 'bad.json')
    await writeFile(path, JSON.stringify(content))
    // `receive` with a bad config must refuse before it listens or touches the data dir.
    const run = spawnSync(process.execPath, [BIN, '--config', path, 'receive', '--data-dir', join(dir, 'data')], { encoding: 'utf8', timeout: 10_000 })
    assert.equal(run.status, 78, run.stderr)
    assert.match(run.stderr, message)
    assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr)
  }
  const envBad = spawnSync(process.execPath, [BIN, 'receive', '--data-dir', join(dir, 'data')],
    { env: { ...process.env, CALLBACK_SPOOL_MAX_BODY: 'lots' }, encoding: 'utf8', timeout: 10_000 })
  assert.equal(envBad.status, 78, envBad.stderr)
  assert.match(envBad.stderr, /`CALLBACK_SPOOL_MAX_BODY`.*lots.*from the environment/)
})

test('the real CLI: a flag beats the env, which beats the file (bad values in the losers are never read)', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'config.json')
  // Both file values are invalid: `receive` starts only if the env and the flag win over them.
  await writeFile(path, JSON.stringify({ port: 'bogus', 'rotate-age': 'never', host: '127.0.0.1', 'data-dir': join(dir, 'data') }))
  const child = spawn(process.execPath, [BIN, '--config', path, 'receive', '--port', '0'], {
    env: { ...process.env, CALLBACK_SPOOL_ROTATE_AGE: '1h', CALLBACK_SPOOL_PORT: 'also-bogus' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = once(child, 'exit')
  let listening: { port: number, address: string, data_dir: string } | undefined
  for await (const line of createInterface({ input: child.stdout! })) {
    const entry = JSON.parse(line) as { msg: string, port: number, address: string, data_dir: string }
    if (entry.msg.startsWith('listening on')) {
      listening = entry
      break
    }
  }
  assert.ok(listening !== undefined, stderr)
  assert.notEqual(listening.port, 0)
  assert.equal(listening.address, '127.0.0.1', 'host from the file')
  assert.equal(listening.data_dir, join(dir, 'data'), 'data dir from the file')
  child.kill('SIGTERM')
  const [code] = await exited as [number | null]
  assert.equal(code, 0, stderr)
})
