/**
 * Node's own modules that only some commands reach, loaded when first used rather than when the
 * CLI starts: compiling one costs a few milliseconds of every start (`status` needs none of
 * these; bench/NOTES.md, start-up). A require() of Node's own module, in src/ (tsx) and in the
 * bundle alike; an import() would start Node's ES module loader.
 */
import { createRequire } from 'node:module'

const load = createRequire(import.meta.url)

/** The module, required on the first call. */
function lazy<T> (name: string): () => T {
  let loaded: T | undefined
  return () => (loaded ??= load(name) as T)
}

export const childProcess = lazy<typeof import('node:child_process')>('node:child_process')
export const crypto = lazy<typeof import('node:crypto')>('node:crypto')
export const https = lazy<typeof import('node:https')>('node:https')
export const readline = lazy<typeof import('node:readline/promises')>('node:readline/promises')
export const zlib = lazy<typeof import('node:zlib')>('node:zlib')
