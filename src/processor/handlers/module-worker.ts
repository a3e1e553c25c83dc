/**
 * The thread a `module:PATH` handler runs in: imports the module, says whether it exports a
 * function, then calls it for each record it is sent and answers with the call's result.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { ModuleCall, ModuleReply, ModuleThreadData } from './module-protocol.js'

const port = parentPort!
const { href } = workerData as ModuleThreadData

type HandleFunction = (record: unknown) => unknown

function describe (err: unknown): { error: string, permanent: boolean } {
  const e = err as { message?: unknown, permanent?: unknown } | null
  const error = e !== null && typeof e === 'object' && typeof e.message === 'string' ? e.message : String(err)
  return { error, permanent: e !== null && typeof e === 'object' && e.permanent === true }
}

function reply (message: ModuleReply): void {
  port.postMessage(message)
}

let fn: HandleFunction | undefined
try {
  const mod = await import(href) as Record<string, unknown>
  const found = typeof mod.default === 'function' ? mod.default : mod.handle
  if (typeof found === 'function') fn = found as HandleFunction
  else reply({ type: 'unusable', error: 'it exports no function: export a default function or a `handle` function' })
} catch (err) {
  reply({ type: 'unusable', error: describe(err).error })
}

if (fn !== undefined) {
  const handle = fn
  port.on('message', ({ id, record }: ModuleCall) => {
    try {
      // Whatever it returns: a value, a promise, or any thenable (adopted safely, even one whose `then` throws).
      Promise.resolve(handle(record)).then(
        () => reply({ type: 'answer', id }),
        (err: unknown) => reply({ type: 'answer', id, ...describe(err) }))
    } catch (err) {
      reply({ type: 'answer', id, ...describe(err) })
    }
  })
  reply({ type: 'ready' })
}
