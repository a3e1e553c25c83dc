/** --version, an example in the top-level help, and receive's options grouped by theme in its help. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { captureIO, toolProgram } from '../helpers/tool-io.js'
import { runCli } from '../helpers/cli.js'

async function helpOf (argv: string[]): Promise<string> {
  const { program, usage } = toolProgram(captureIO())
  await assert.rejects(program.parseAsync([...argv, '--help'], { from: 'user' }), { code: 'commander.helpDisplayed' })
  return usage()
}

test('--version prints the package version and exits 0', async () => {
  const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  const cli = runCli(['--version'])
  assert.equal((await cli.exited).code, 0)
  assert.equal(cli.stdout(), `${version}\n`)
})

test('the top-level help has examples, and every command lists --log-level', async () => {
  const top = await helpOf([])
  assert.match(top, /Examples:\n {2}callback-spool up --data-dir data/)
  for (const argv of [['receive'], ['process'], ['status'], ['dead', 'purge']]) assert.match(await helpOf(argv), /--log-level <level>/, argv.join(' '))
})

test('receive --help groups its options: listening, durability, rotation, admin, access control', async () => {
  const help = await helpOf(['receive'])
  const headings = help.split('\n').filter((l) => /^[A-Z][^:]*:$/.test(l))
  assert.deepEqual(headings.slice(0, 5), ['Listening:', 'Durability:', 'Rotation:', 'Admin port (health and metrics):', 'Access control:'])
  const section = (heading: string): string => help.slice(help.indexOf(heading), help.indexOf('\n\n', help.indexOf(heading)))
  assert.match(section('Listening:'), /--port <port>/)
  assert.match(section('Durability:'), /--durability <mode>/)
  assert.match(section('Rotation:'), /--rotate-age/)
  assert.match(section('Admin port'), /--admin-port/)
  assert.match(section('Access control:'), /--token <secret>[\s\S]*--public-url/)
})

test('help and the version to a reader that is gone (`--help | head`) end quietly, exit 0', async () => {
  for (const argv of [['--help'], ['process', '--help'], ['dead', 'list', '--help'], ['--version']]) {
    const cli = runCli(argv)
    // The pipe's reader closes before the CLI has written a byte: its write meets EPIPE.
    cli.child.stdout!.destroy()
    assert.deepEqual(await cli.exited, { code: 0, signal: null }, argv.join(' '))
    assert.equal(cli.stderr(), '', argv.join(' '))
  }
})
