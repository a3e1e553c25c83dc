/**
 * Reads the sample requests: request line, headers, blank line, body (no trailing newline).
 * test/fixtures is a verbatim copy of the project's shared fixtures (../shared/fixtures), kept in
 * the repo so that `npm test` passes on a clean clone.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { IncomingHttpHeaders } from 'node:http'

export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url))
/** The shared originals, when this checkout sits beside them. */
export const SHARED_FIXTURES_DIR = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url))

export interface HttpFixture {
  name: string
  method: string
  /** The request target: path and query string. */
  target: string
  /** Lower-case names, as node:http gives them. */
  headers: IncomingHttpHeaders
  body: Buffer
}

/** Parses one .http file; lines may end in LF or CRLF, and the body is taken byte for byte. */
export function parseHttpFixture (name: string, raw: Buffer): HttpFixture {
  let end = raw.indexOf('\r\n\r\n')
  let sep = 4
  const lf = raw.indexOf('\n\n')
  if (end === -1 || (lf !== -1 && lf < end)) {
    end = lf
    sep = 2
  }
  if (end === -1) throw new Error(`${name}: no blank line after the headers`)
  const head = raw.subarray(0, end).toString('utf8').split(/\r?\n/)
  const [method, target] = head[0]!.split(' ')
  if (method === undefined || target === undefined) throw new Error(`${name}: bad request line`)
  const headers: IncomingHttpHeaders = {}
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { name, method, target, headers, body: raw.subarray(end + sep) }
}

export function loadFixtures (dir = FIXTURES_DIR): HttpFixture[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.http'))
    .sort()
    .map((f) => parseHttpFixture(f, readFileSync(join(dir, f))))
}

export function loadFixture (name: string, dir = FIXTURES_DIR): HttpFixture {
  return parseHttpFixture(name, readFileSync(join(dir, name)))
}
