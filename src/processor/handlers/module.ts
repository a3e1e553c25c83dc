/**
 * `module:PATH`: a JS module whose default export (or `handle` export) is called with the
 * record. Returning or resolving: done; throwing: retry; throwing an error with
 * `permanent: true`: dead-letter.
 *
 * The module runs in a worker thread of its own, so that a call that never ends (a promise that
 * never settles, a loop) can be stopped at the timeout, and a `process.exit()` in it ends the
 * thread, not the processor; either is a retry, and the next call starts a fresh thread.
 */
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { ConfigError } from '../../errors.js'
import { DONE, type Handler, type HandlerOutcome } from '../handler.js'
import type { NormalisedCallback } from '../normalise.js'
import type { ModuleCall, ModuleReply, ModuleThreadData } from './module-protocol.js'

/** How long a module may take to load (its imports, its top-level code), apart from any call. */
const LOAD_TIMEOUT_MS = 30_000

// module-worker.js beside this file once built (dist/main.cjs); module-worker.ts when run from
// the sources (tsx).
const FROM_SOURCES = import.meta.url.endsWith('.ts')
const WORKER_URL = new URL(`./module-worker.${FROM_SOURCES ? 'ts' : 'js'}`, import.meta.url)

function startWorker (data: ModuleThreadData): Worker {
  if (!FROM_SOURCES) return new Worker(WORKER_URL, { workerData: data })
  // From the sources (the tests): Node 20 does not give a worker its parent's loader hooks
  // (privatenumber/tsx#354), so the worker registers tsx itself before loading its entry.
  const tsx = import.meta.resolve('tsx/esm/api')
  const bootstrap = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(WORKER_URL.href)}) })`
  return new Worker(bootstrap, { eval: true, workerData: data })
}

/** One thread running the module, with the calls it has not answered yet. */
class ModuleThread {
  private readonly worker: Worker
  private readonly calls = new Map<number, (outcome: HandlerOutcome) => void>()
  private nextId = 0
  /** Why the thread is gone, once it is: every call after that fails with it. */
  private ended: string | undefined
  private loaded = false
  /** Resolves once the module is loaded; rejects with why it cannot be. */
  readonly ready: Promise<void>

  constructor (href: string) {
    this.worker = startWorker({ href })
    this.ready = new Promise((resolve, reject) => {
      const loadTimer = setTimeout(() => {
        reject(new Error(`it did not load within ${LOAD_TIMEOUT_MS} ms`))
        this.terminate('the module did not load').catch(() => {})
      }, LOAD_TIMEOUT_MS)
      this.worker.on('message', (message: ModuleReply) => {
        if (message.type === 'ready') {
          clearTimeout(loadTimer)
          this.loaded = true
          resolve()
        } else if (message.type === 'unusable') {
          clearTimeout(loadTimer)
          reject(new Error(message.error))
          this.terminate('the module cannot be used').catch(() => {})
        } else this.answer(message.id, message.error === undefined ? DONE : { outcome: message.permanent === true ? 'dead' : 'retry', error: message.error })
      })
      this.worker.on('error', (err) => {
        clearTimeout(loadTimer)
        reject(err)
        this.end(`the module failed outside of a call: ${err.message}`)
      })
      this.worker.on('exit', (code) => {
        clearTimeout(loadTimer)
        reject(new Error(`it ended its thread while loading (exit code ${code})`))
        this.end(`the module ended its thread (process.exit(${code}))`)
      })
    })
    // Observed here; the callers that await it see the reason too.
    this.ready.catch(() => {})
    // An idle thread does not keep the processor alive; a call in flight has its timer for that.
    // After the listeners: adding a 'message' listener refs the port again.
    this.worker.unref()
  }

  get alive (): boolean {
    return this.ended === undefined
  }

  get isLoaded (): boolean {
    return this.loaded
  }

  call (record: NormalisedCallback): Promise<HandlerOutcome> {
    if (this.ended !== undefined) return Promise.resolve({ outcome: 'retry', error: this.ended })
    const id = this.nextId++
    return new Promise((resolve) => {
      this.calls.set(id, resolve)
      this.worker.postMessage({ id, record } satisfies ModuleCall)
    })
  }

  private answer (id: number, outcome: HandlerOutcome): void {
    const resolve = this.calls.get(id)
    this.calls.delete(id)
    resolve?.(outcome)
  }

  /** The thread is gone: every call in flight fails with the reason. */
  private end (reason: string): void {
    this.ended ??= reason
    for (const resolve of this.calls.values()) resolve({ outcome: 'retry', error: this.ended })
    this.calls.clear()
  }

  async terminate (reason: string): Promise<void> {
    this.end(reason)
    await this.worker.terminate()
  }
}

export class ModuleHandler implements Handler {
  readonly target: string
  private readonly href: string
  private readonly timeoutMs: number
  private thread: ModuleThread

  private constructor (target: string, href: string, timeoutMs: number, thread: ModuleThread) {
    this.target = target
    this.href = href
    this.timeoutMs = timeoutMs
    this.thread = thread
  }

  /** Starts the module's thread; throws ConfigError if the module cannot be loaded or exports no function. */
  static async load (target: string, path: string, timeoutMs: number): Promise<ModuleHandler> {
    const href = pathToFileURL(resolve(path)).href
    const thread = new ModuleThread(href)
    try {
      await thread.ready
    } catch (err) {
      await thread.terminate('not loaded')
      throw new ConfigError(`cannot use the handler module ${path}: ${(err as Error).message}`, { cause: err })
    }
    return new ModuleHandler(target, href, timeoutMs, thread)
  }

  handle (record: NormalisedCallback): Promise<HandlerOutcome> {
    // A fresh thread after one that timed out or ended.
    if (!this.thread.alive) this.thread = new ModuleThread(this.href)
    const thread = this.thread
    return new Promise((resolve) => {
      let state: 'loading' | 'called' | 'over' = 'loading'
      const timer = setTimeout(() => {
        const was = state
        state = 'over'
        if (was === 'loading') {
          // Loading is not the call: the thread goes on loading (within its own limit) for the next one.
          resolve({ outcome: 'retry', error: `the module was still loading after ${this.timeoutMs} ms` })
          return
        }
        // Stopping the thread is the only way to stop the call; the others in flight are retried.
        thread.terminate(`the module's thread was stopped: a call timed out after ${this.timeoutMs} ms`).catch(() => {})
        resolve({ outcome: 'retry', error: `timed out after ${this.timeoutMs} ms` })
      }, this.timeoutMs)
      const settle = (outcome: HandlerOutcome): void => {
        state = 'over'
        clearTimeout(timer)
        resolve(outcome)
      }
      const call = (): void => {
        // Loaded too late: this call has been answered already.
        if (state !== 'loading') return
        state = 'called'
        thread.call(record).then(settle, () => {})
      }
      if (thread.isLoaded) call()
      else thread.ready.then(call, (err: unknown) => settle({ outcome: 'retry', error: `cannot load the module: ${(err as Error).message}` }))
    })
  }

  async close (): Promise<void> {
    await this.thread.terminate('closed')
  }
}
