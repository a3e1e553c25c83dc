/** What a debug log says about a spooled callback: its shape, with personal data masked. */
import { maskFields } from '../mask.js'
import { parseBodyFields } from './params.js'

export function debugSummary (body: Buffer): Record<string, unknown> {
  return { bytes: body.length, fields: maskFields(parseBodyFields(body, body.toString('utf8'))) }
}
