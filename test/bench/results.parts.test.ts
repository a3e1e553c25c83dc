/** bench/RESULTS.md as `npm run bench` writes it, and the start-up targets. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { benchCommand, mergeResults } from '../../bench/results.js'
import { startupTable, startupTargets, type StartupSubject } from '../../bench/startup.js'

test('a part that ran replaces its section; the others keep their last figures, in the parts\' order', () => {
  const first = mergeResults('', { processor: 'processor figures, run 1', receiver: 'receiver figures, run 1' })
  assert.match(first, /^# Benchmark results\n/)
  assert.ok(first.indexOf('## Receiver') < first.indexOf('## Processor'))
  assert.doesNotMatch(first, /## Start-up/)
  const second = mergeResults(first, { processor: 'processor figures, run 2', startup: 'start-up figures' })
  assert.match(second, /receiver figures, run 1/)
  assert.match(second, /processor figures, run 2/)
  assert.doesNotMatch(second, /processor figures, run 1/)
  assert.deepEqual([...second.matchAll(/^## (.*)$/gm)].map((m) => m[1]), ['Receiver', 'Start-up', 'Processor'])
  // Merging again with nothing new changes nothing.
  assert.equal(mergeResults(second, {}), second)
})

test('the command is written as typed', () => {
  assert.equal(benchCommand([]), 'npm run bench')
  assert.equal(benchCommand(['--only', 'processor']), 'npm run bench -- --only processor')
})

test('start-up: each command under 0.15 s passes, and is shown beside node -e 0', () => {
  const subject = (label: string, wall: number, target: boolean, ok = true): StartupSubject => ({ label, wall, minWall: wall, cpu: wall, ok, target })
  const targets = startupTargets([subject('node -e 0', 0.05, false), subject('status', 0.12, true), subject('process', 0.16, true), subject('broken', 0.1, true, false)])
  assert.deepEqual(targets.map((t) => t.pass), [true, false, false])
  assert.match(targets[0]!.measured, /0\.120 s \(node -e 0: 0\.050 s\)/)
  assert.match(targets[2]!.measured, /did not exit 0/)
  assert.match(startupTable([subject('node -e 0', 0.05, false)]), /^\| node -e 0 \| 0\.050 \| 0\.050 \| 0\.050 \|$/m)
})
