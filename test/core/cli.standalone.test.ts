/**
 * A start defines only the command it runs, when that command needs no other: the command line
 * decides, and the command must come out the same as in the program with every command.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Command } from 'commander'
import { createProgram, standaloneCommand } from '../../src/cli.js'

const argv = (...args: string[]): string[] => ['/usr/bin/node', '/usr/bin/callback-spool', ...args]
const names = (program: Command): string[] => program.commands.map((c) => c.name())
const everyCommand = names(createProgram())

/** What commander and the config file see of a command: each option's flags, variable, default, choices, and its subcommands'. */
function shape (command: Command): unknown {
  return {
    options: command.options.map((o) => [o.flags, o.envVar, o.defaultValue, o.argChoices, o.description]),
    commands: command.commands.map(shape),
  }
}

test('a command that needs no other is defined alone, and as it is among all', () => {
  const all = createProgram()
  const standalone = everyCommand.filter((name) => standaloneCommand(argv(name), all, {}) !== undefined)
  assert.deepEqual(standalone, ['receive', 'process', 'status', 'cat', 'verify', 'replay', 'dead', 'purge', 'db', 'trace'])
  for (const name of standalone) {
    const alone = createProgram({ argv: argv(name) })
    assert.deepEqual(names(alone), [name])
    assert.deepEqual(shape(alone.commands[0]!), shape(all.commands.find((c) => c.name() === name)!), name)
    // The program's own options too (--config, --log-level, --verbose, --version).
    assert.deepEqual(alone.options.map((o) => o.flags), all.options.map((o) => o.flags))
  }
})

test('the command is found past the program\'s own options, with their values', () => {
  const program = createProgram()
  assert.equal(standaloneCommand(argv('--log-level', 'debug', 'process', '--data-dir', 'd'), program, {}), 'process')
  assert.equal(standaloneCommand(argv('--log-level=debug', '--verbose', 'status'), program, {}), 'status')
  // `debug` is --log-level's value, not a command: nothing else is taken for one.
  assert.equal(standaloneCommand(argv('--log-level', 'process'), program, {}), undefined)
})

test('every command is defined for help, up, config, a config file, or what is not known', () => {
  for (const args of [
    [],
    ['--help'],
    ['-h'],
    ['--version'],
    ['help', 'process'],
    ['up'],
    ['config'],
    ['proces'],
    ['--bogus', 'process'],
    ['process', '--config', 'callback-spool.json'],
    ['--config=callback-spool.json', 'process'],
  ]) {
    assert.deepEqual(names(createProgram({ argv: argv(...args) })), everyCommand, args.join(' '))
  }
  // CALLBACK_SPOOL_CONFIG names a file whose keys are checked against every command's options.
  assert.equal(standaloneCommand(argv('process'), createProgram(), { CALLBACK_SPOOL_CONFIG: '/etc/callback-spool.json' }), undefined)
  assert.equal(standaloneCommand(argv('process'), createProgram(), { CALLBACK_SPOOL_CONFIG: '' }), 'process')
})
