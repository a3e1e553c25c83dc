import { test } from 'node:test'
import assert from 'node:assert/strict'
import { callBounded } from '../../src/processor/bounded-call.js'
import { DONE, type Handler } from '../../src/processor/handler.js'
import { normaliseCallback } from '../../src/processor/normalise.js'
import { ZonedTimeReader } from '../../src/processor/provider-time.js'
import { deliveryRecord } from '../helpers/records.js'

const record = normaliseCallback(deliveryRecord(1), new ZonedTimeReader('Europe/Paris'))

/** A handler answering whatever `answer` returns: the shapes a faulty handler could give. */
function handlerOf (answer: () => unknown): Handler {
  return { target: 'test:', handle: answer as Handler['handle'] }
}

test('bounded call: a synchronous outcome stays synchronous', () => {
  assert.equal(callBounded(handlerOf(() => DONE), record, 1000), DONE)
  assert.deepEqual(callBounded(handlerOf(() => { throw new Error('boom') }), record, 1000), { outcome: 'retry', error: 'boom' })
  assert.deepEqual(callBounded(handlerOf(() => undefined), record, 1000), { outcome: 'retry', error: 'the handler gave no outcome' })
})

test('bounded call: a promise that never settles is a retry at the timeout', async () => {
  assert.deepEqual(await callBounded(handlerOf(() => new Promise(() => {})), record, 100), { outcome: 'retry', error: 'timed out after 100 ms' })
})

test('bounded call: any thenable is adopted safely', async () => {
  assert.deepEqual(await callBounded(handlerOf(() => ({ then: (resolve: (v: unknown) => void) => resolve(DONE) })), record, 1000), DONE)
  assert.deepEqual(await callBounded(handlerOf(() => ({ then () { throw new Error('bad then') } })), record, 1000), { outcome: 'retry', error: 'bad then' })
  assert.deepEqual(await callBounded(handlerOf(() => ({ then () {} })), record, 100), { outcome: 'retry', error: 'timed out after 100 ms' })
  assert.deepEqual(await callBounded(handlerOf(() => Promise.reject(new Error('down'))), record, 1000), { outcome: 'retry', error: 'down' })
  assert.deepEqual(await callBounded(handlerOf(() => Promise.resolve(42)), record, 1000), { outcome: 'retry', error: 'the handler gave no outcome' })
})
