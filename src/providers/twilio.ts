/**
 * Twilio Programmable Messaging. Form posts with `MessageSid`
 * and `AccountSid`: `MessageStatus` makes a status callback; `OptOutType` (Advanced Opt-Out)
 * STOP / START an opt-out / opt-in; otherwise `Body` makes an incoming message. Status callbacks
 * carry no event time; `RawDlrDoneDate` (YYMMDDhhmm) is in the carrier's zone, which Twilio says
 * varies between carriers: it is kept in `event_date`, and `event_time` stays null rather than a guess,
 * unless `--provider-tz twilio=ZONE` says which zone to read it in.
 * Incoming messages expect TwiML: an empty <Response/> sends nothing back.
 */
import { normaliseNumber } from '../number.js'
import { errorCode, fieldString, hasFields } from './fields.js'
import type { Classification, ProviderEvent, ProviderProfile } from './profile.js'
import { createTwilioVerifier } from './signatures/twilio.js'
import { statusMapper } from './status.js'
import type { ZonedTimeReader } from './zoned-time.js'
import { SIGNATURE_OPTIONS } from './signature-options.js'

const toStatus = statusMapper({
  queued: 'accepted',
  accepted: 'accepted',
  scheduled: 'accepted',
  sending: 'accepted',
  sent: 'sent',
  delivered: 'delivered',
  read: 'read',
  undelivered: 'failed',
  failed: 'failed',
  canceled: 'rejected',
})

function classifyTwilio (fields: Record<string, unknown>): Classification {
  const optOut = fieldString(fields.OptOutType)?.toUpperCase()
  if (optOut === 'STOP') return { kind: 'optout' }
  if (optOut === 'START') return { kind: 'optin' }
  if (hasFields(fields, 'MessageStatus')) return { kind: 'delivery', dateField: 'RawDlrDoneDate' }
  if (hasFields(fields, 'Body')) return { kind: 'reply' }
  return { kind: 'unknown' }
}

/** `YYMMDDhhmm` read in the zone the operator set. */
function rawDlrDoneTime (text: string, time: ZonedTimeReader): string | null {
  const m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text.trim())
  return m === null ? null : (time.toIsoUtc(`20${m[1]}-${m[2]}-${m[3]} ${m[4]}:${m[5]}:00`) ?? null)
}

const messageId = (fields: Record<string, unknown>): string | null => fieldString(fields.MessageSid) ?? fieldString(fields.SmsSid)

export const twilio: ProviderProfile = {
  name: 'twilio',
  recognises: ({ fields }) => hasFields(fields, 'AccountSid') && (hasFields(fields, 'MessageSid') || hasFields(fields, 'SmsSid')),
  classify: classifyTwilio,
  messageId,
  normalise ({ fields }, { time }) {
    const { kind } = classifyTwilio(fields)
    const doneDate = kind === 'delivery' ? fieldString(fields.RawDlrDoneDate) : null
    const from = normaliseNumber(fieldString(fields.From))
    const to = normaliseNumber(fieldString(fields.To))
    // A receipt's subscriber is its recipient; an incoming message's, its sender.
    const inbound = kind !== 'delivery'
    const event: ProviderEvent = {
      kind,
      message_id: messageId(fields),
      number: inbound ? from : to,
      our_number: inbound ? to : from,
      event_date: doneDate,
      event_time: doneDate === null || time === null ? null : rawDlrDoneTime(doneDate, time),
    }
    if (kind === 'delivery') {
      const word = fieldString(fields.MessageStatus)
      event.status = toStatus(word)
      event.provider_status = word
      event.error_code = errorCode(fields.ErrorCode)
    } else {
      event.text = fieldString(fields.Body)
    }
    return [event]
  },
  dedupeKey: (event, fields) => event.message_id === null
    ? null
    : `${event.message_id}|${fieldString(fields.MessageStatus) ?? event.kind}`,
  timeZone: null,
  answer: { status: 200, contentType: 'text/xml', body: '<?xml version="1.0" encoding="UTF-8"?><Response></Response>' },
  signature: { ...SIGNATURE_OPTIONS.twilio, create: createTwilioVerifier },
}
