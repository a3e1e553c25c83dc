/** What a debug log says about a spooled callback: its shape, with personal data masked. */
import { maskFields, maskPath } from '../mask.js'
import { parseBodyFields } from './params.js'

export function debugSummary (path: string, body: Buffer): Record<string, unknown> {
  return { path: maskPath(path), bytes: body.length, fields: maskFields(parseBodyFields(body, body.toString('utf8'))) }
}
