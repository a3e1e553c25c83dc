/**
 * Twilio's `X-Twilio-Signature`: base64 of HMAC-SHA1, keyed with the account's auth token, over
 * the full URL Twilio called followed by each POST parameter's name and value, sorted by name
 * (https://www.twilio.com/docs/usage/security). JSON bodies are signed differently: the URL
 * carries `bodySHA256` (hex SHA-256 of the body) and only the URL is signed.
 *
 * So a signature covers a body only as a POST form's parameters or through `bodySHA256`; any
 * other body (JSON without `bodySHA256`, a body on a GET) is refused, as twilio-node refuses a
 * JSON body without it. Otherwise a signature over the URL alone, captured once (they never
 * expire), would carry any body.
 *
 * Twilio's own libraries also accept the URL with the default port added or removed, since
 * proxies and Twilio disagree on it; so does this one.
 */
import { crypto } from '../../lazy-builtin.js'
import type { Params } from '../../record.js'
import { constantTimeEqual, type SignatureVerifier, type SignedRequest } from './verifier.js'

export const TWILIO_SIGNATURE_HEADER = 'x-twilio-signature'

/** The string Twilio signs for `url` and the POST parameters (repeated names: values sorted). */
export function twilioSigningString (url: string, params: Iterable<[string, string]>): string {
  const byName = new Map<string, string[]>()
  for (const [name, value] of params) {
    const values = byName.get(name)
    if (values === undefined) byName.set(name, [value])
    else values.push(value)
  }
  // Code-unit order, as Twilio's libraries sort ("Unix-style case-sensitive").
  const names = [...byName.keys()].sort()
  let data = url
  for (const name of names) {
    for (const value of byName.get(name)!.sort()) data += name + value
  }
  return data
}

export function twilioSignature (authToken: string, url: string, params: Iterable<[string, string]>): string {
  return crypto().createHmac('sha1', authToken).update(twilioSigningString(url, params), 'utf8').digest('base64')
}

/** The URL with its default port added when absent, and removed when present. */
function portVariants (url: string, parsed: URL): string[] {
  const defaultPort = parsed.protocol === 'https:' ? '443' : parsed.protocol === 'http:' ? '80' : ''
  if (defaultPort === '') return [url]
  // URL drops a default port when parsing, so rebuild the authority by hand from the original.
  const authorityEnd = url.indexOf('/', url.indexOf('//') + 2)
  const authority = authorityEnd === -1 ? url : url.slice(0, authorityEnd)
  const rest = authorityEnd === -1 ? '' : url.slice(authorityEnd)
  const withPort = `:${defaultPort}`
  if (authority.endsWith(withPort)) return [url, authority.slice(0, -withPort.length) + rest]
  if (/:\d+$/.test(authority)) return [url]
  return [url, `${authority}:${defaultPort}${rest}`]
}

/** The signed parameters of a form, from the fields the record gets. */
function formPairs (fields: Params): Array<[string, string]> {
  const pairs: Array<[string, string]> = []
  for (const name of Object.keys(fields)) {
    const value = fields[name]!
    if (typeof value === 'string') pairs.push([name, value])
    else for (const v of value) pairs.push([name, v])
  }
  return pairs
}

/** The parameters Twilio signed for this body; undefined when its signature cannot cover it. */
function signedParams (request: SignedRequest, bodySha256: string | null): Array<[string, string]> | undefined {
  const { body } = request
  if (bodySha256 !== null) {
    const actual = crypto().createHash('sha256').update(body.bytes).digest('hex')
    return constantTimeEqual(actual, bodySha256.toLowerCase()) ? [] : undefined
  }
  // Only a body with no bytes at all is covered by the URL alone; even blanks are not.
  if (body.bytes.length === 0) return []
  if (body.kind === 'form' && request.method === 'POST') return formPairs(body.fields)
  return undefined
}

export function createTwilioVerifier (authToken: string): SignatureVerifier {
  return {
    scheme: 'twilio',
    verify (request: SignedRequest): boolean {
      const header = request.headers[TWILIO_SIGNATURE_HEADER]
      const given = Array.isArray(header) ? header[0] : header
      if (given === undefined || given === '') return false
      let parsed: URL
      try {
        parsed = new URL(request.url)
      } catch {
        return false
      }
      const params = signedParams(request, parsed.searchParams.get('bodySHA256'))
      if (params === undefined) return false
      let ok = false
      // Check every variant (no early exit), so the timing does not tell which one matched.
      for (const url of portVariants(request.url, parsed)) {
        if (constantTimeEqual(twilioSignature(authToken, url, params), given)) ok = true
      }
      return ok
    },
  }
}
