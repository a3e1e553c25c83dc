/**
 * `module:PATH`: a JS module whose default export (or `handle` export) is called with the
 * record. Returning or resolving: done; throwing: retry; throwing an error with
 * `permanent: true`: dead-letter.
 */
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ConfigError } from '../../errors.js'
import { DONE, type Handler, type HandlerOutcome } from '../handler.js'
import type { NormalisedCallback } from '../normalise.js'

type HandleFunction = (record: NormalisedCallback) => unknown

export class ModuleHandler implements Handler {
  readonly target: string
  private readonly fn: HandleFunction

  private constructor (target: string, fn: HandleFunction) {
    this.target = target
    this.fn = fn
  }

  static async load (target: string, path: string): Promise<ModuleHandler> {
    let mod: Record<string, unknown>
    try {
      mod = await import(pathToFileURL(resolve(path)).href) as Record<string, unknown>
    } catch (err) {
      throw new ConfigError(`cannot load the handler module ${path}: ${(err as Error).message}`, { cause: err })
    }
    const fn = typeof mod.default === 'function' ? mod.default : mod.handle
    if (typeof fn !== 'function') {
      throw new ConfigError(`the handler module ${path} exports no function: export a default function or a \`handle\` function`)
    }
    return new ModuleHandler(target, fn as HandleFunction)
  }

  handle (record: NormalisedCallback): HandlerOutcome | Promise<HandlerOutcome> {
    let result: unknown
    try {
      result = this.fn(record)
    } catch (err) {
      return failure(err)
    }
    if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
      return (result as Promise<unknown>).then(() => DONE, failure)
    }
    return DONE
  }
}

function failure (err: unknown): HandlerOutcome {
  const e = err as { message?: unknown, permanent?: unknown } | null
  const error = e !== null && typeof e === 'object' && typeof e.message === 'string' ? e.message : String(err)
  if (e !== null && typeof e === 'object' && e.permanent === true) return { outcome: 'dead', error }
  return { outcome: 'retry', error }
}
