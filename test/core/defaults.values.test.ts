/**
 * One source for each default, as pino keeps its `defaultOptions`: every default the CLI shows in
 * --help parses to the constant the code uses, so the help, the behaviour and the code cannot
 * drift apart. A new option with a default and no row here fails the test.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Command } from 'commander'
import { createProgram } from '../../src/cli.js'
import { DEFAULT_LOG_LEVEL } from '../../src/logger.js'
import { FOLLOW_DEFAULTS, NATS_DEFAULTS, PROCESS_DEFAULTS } from '../../src/processor/defaults.js'
import { processOptionsFrom } from '../../src/processor/options.js'
import { RECEIVE_DEFAULTS } from '../../src/receiver/defaults.js'
import { DEFAULT_VONAGE_SIGNATURE_METHOD } from '../../src/providers/signature-options.js'
import { DEFAULT_DATA_DIR } from '../../src/spool/layout.js'
import { DEFAULT_MAX_LAG_MS } from '../../src/tools/health.js'
import { formatDuration, formatSize, parseBytes, parseDuration, parsePort, parsePositiveInt } from '../../src/units.js'

type Parse = (value: string) => unknown
const text: Parse = (v) => v
const size: Parse = (v) => parseBytes('size', v)
const duration: Parse = (v) => parseDuration('duration', v, { zero: 'allowed' })
const int: Parse = (v) => parsePositiveInt('n', v)
const port: Parse = (v) => parsePort('port', v)

/** `command --flag` (`*` for every command) -> how the command parses it, and the constant it must give. */
const EXPECTED: Record<string, [Parse, unknown]> = {
  '* --data-dir': [text, DEFAULT_DATA_DIR],
  ' --log-level': [text, DEFAULT_LOG_LEVEL],
  'receive --port': [port, RECEIVE_DEFAULTS.port],
  'receive --max-body': [size, RECEIVE_DEFAULTS.maxBodyBytes],
  'receive --durability': [text, RECEIVE_DEFAULTS.durability],
  'receive --rotate-bytes': [size, RECEIVE_DEFAULTS.rotateBytes],
  'receive --rotate-age': [duration, RECEIVE_DEFAULTS.rotateAgeMs],
  'receive --request-timeout': [duration, RECEIVE_DEFAULTS.requestTimeoutMs],
  'receive --max-connections': [int, RECEIVE_DEFAULTS.maxConnections],
  'receive --first-byte-timeout': [duration, RECEIVE_DEFAULTS.firstByteTimeoutMs],
  'receive --admin-host': [text, RECEIVE_DEFAULTS.adminHost],
  'receive --min-free': [size, RECEIVE_DEFAULTS.minFreeBytes],
  'process --provider-tz': [text, PROCESS_DEFAULTS.providerTz],
  'process --max-attempts': [int, PROCESS_DEFAULTS.maxAttempts],
  'process --dead-after': [duration, PROCESS_DEFAULTS.deadAfterMs],
  'process --tries': [int, PROCESS_DEFAULTS.tries],
  'process --retry-delay': [duration, PROCESS_DEFAULTS.retryDelayMs],
  'process --handler-timeout': [duration, PROCESS_DEFAULTS.handlerTimeoutMs],
  'process --concurrency': [int, PROCESS_DEFAULTS.concurrency],
  'process --order-key': [text, PROCESS_DEFAULTS.orderKey],
  'process --batch-size': [int, PROCESS_DEFAULTS.batchSize],
  'receive --vonage-signature-method': [text, DEFAULT_VONAGE_SIGNATURE_METHOD],
  'process --dedupe-window': [duration, PROCESS_DEFAULTS.dedupeWindowMs],
  'process --retain': [duration, PROCESS_DEFAULTS.retainMs],
  'process --poll-interval': [duration, FOLLOW_DEFAULTS.pollIntervalMs],
  'process --stream-max-age': [duration, NATS_DEFAULTS.streamMaxAgeMs],
  'process --stream-replicas': [int, NATS_DEFAULTS.streamReplicas],
  'process --ack-wait': [duration, NATS_DEFAULTS.ackWaitMs],
  'process --retry-pause': [duration, FOLLOW_DEFAULTS.retryPauseMs],
  'up --port': [port, RECEIVE_DEFAULTS.port],
  'status --min-free': [size, RECEIVE_DEFAULTS.minFreeBytes],
  'status --max-lag': [duration, DEFAULT_MAX_LAG_MS],
  'cat --poll-interval': [duration, FOLLOW_DEFAULTS.pollIntervalMs],
}

/** Every option of every command that has a default, as `command path --flag`. */
function defaultsOf (command: Command, path: string[] = []): Array<{ key: string, value: unknown }> {
  return [
    ...command.options.filter((o) => o.defaultValue !== undefined).map((o) => ({ key: `${path.join(' ')} ${o.long!}`, value: o.defaultValue as unknown })),
    ...command.commands.flatMap((sub) => defaultsOf(sub, [...path, sub.name()])),
  ]
}

test('each CLI default parses to its constant', () => {
  const found = defaultsOf(createProgram())
  assert.ok(found.length >= 30)
  for (const { key, value } of found) {
    const row = EXPECTED[key] ?? (key.endsWith(' --data-dir') ? EXPECTED['* --data-dir'] : undefined)
    assert.ok(row !== undefined, `${key}: its default ${JSON.stringify(value)} has a constant in this table`)
    assert.equal(typeof value, 'string', `${key}: a string, as a value from the environment or a config file is`)
    assert.deepEqual(row[0](value as string), row[1], key)
  }
})

test('the process command turns its defaults into PROCESS_DEFAULTS', () => {
  const command = createProgram().commands.find((c) => c.name() === 'process')!
  const opts = Object.fromEntries(command.options.filter((o) => o.defaultValue !== undefined).map((o) => [o.attributeName(), o.defaultValue as unknown]))
  const options = processOptionsFrom(opts)
  for (const [name, value] of Object.entries(PROCESS_DEFAULTS)) assert.deepEqual(options[name as keyof typeof options], value, name)
  assert.equal(options.pollIntervalMs, FOLLOW_DEFAULTS.pollIntervalMs)
  assert.equal(options.retryPauseMs, FOLLOW_DEFAULTS.retryPauseMs)
})

test('formatSize and formatDuration write what parseBytes and parseDuration read back', () => {
  for (const bytes of [1, 1000, 1024, 65_536, 1536, 64 * 1024 ** 2, 1024 ** 3, 3 * 1024 ** 4]) assert.equal(parseBytes('x', formatSize(bytes)), bytes)
  for (const ms of [1, 250, 500, 1000, 1500, 30_000, 90_000, 3_600_000, 86_400_000, 7 * 86_400_000]) assert.equal(parseDuration('x', formatDuration(ms)), ms)
  assert.equal(formatSize(65_536), '64KiB')
  assert.equal(formatDuration(7 * 86_400_000), '7d')
})
