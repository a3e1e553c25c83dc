/**
 * The `receive` options of the providers that sign their requests, one entry per scheme, declared
 * apart from the profiles: the CLI lists them in every command's start-up, and loading the
 * profiles (and node:crypto with them) for that would weigh on every command. A profile's
 * `signature` is its entry here and its verifier; Vonage's two APIs share one secret.
 */

/** Vonage's dashboard choices, by the names vonage-node-sdk gives them. */
export const VONAGE_SIGNATURE_METHODS = ['md5hash', 'md5', 'sha1', 'sha256', 'sha512'] as const
export type VonageSignatureMethod = typeof VONAGE_SIGNATURE_METHODS[number]
/** The dashboard's default. */
export const DEFAULT_VONAGE_SIGNATURE_METHOD: VonageSignatureMethod = 'md5hash'

export interface SignatureOptionSpec {
  /** The `receive` option that holds the secret (or key): `--twilio-auth-token`. Unset: not checked. */
  readonly option: string
  /** Its line in `receive --help`. */
  readonly description: string
  /** The option that chooses the algorithm, for a provider that lets the operator choose it. */
  readonly method?: { readonly option: string, readonly choices: readonly string[], readonly default: string, readonly description: string }
}

const VONAGE: SignatureOptionSpec = {
  option: '--vonage-signature-secret',
  description: 'verify Vonage\'s signed webhooks (SMS API `sig`, Messages API JWT) with this signature secret',
  method: {
    option: '--vonage-signature-method',
    choices: VONAGE_SIGNATURE_METHODS,
    default: DEFAULT_VONAGE_SIGNATURE_METHOD,
    description: 'the SMS API signature method chosen in Vonage\'s dashboard',
  },
}

/** In the order of `receive --help`. */
export const SIGNATURE_OPTIONS = {
  twilio: {
    option: '--twilio-auth-token',
    description: 'verify X-Twilio-Signature with this auth token',
  },
  vonage: VONAGE,
  vonageMessages: VONAGE,
  plivo: {
    option: '--plivo-auth-token',
    description: 'verify X-Plivo-Signature-V3 (or -V2, which does not sign the body) with this auth token',
  },
  telnyx: {
    option: '--telnyx-public-key',
    description: 'verify telnyx-signature-ed25519 with this public key (base64, from the portal); a timestamp over 5 minutes off is refused',
  },
  sinch: {
    option: '--sinch-webhook-secret',
    description: 'verify x-sinch-webhook-signature (HMAC, set on the service plan by Sinch) with this secret',
  },
  messagebird: {
    option: '--messagebird-signing-key',
    description: 'verify MessageBird-Signature-JWT, or without it the older MessageBird-Signature, with this signing key (not the API key)',
  },
  bird: {
    option: '--bird-signing-key',
    description: 'verify messagebird-signature (Bird webhook subscriptions) with this signing key; bind the path with --provider-path /PREFIX/=bird',
  },
} as const satisfies Record<string, SignatureOptionSpec>

/** A `receive` option of a signature scheme: a secret, or a method with its choices. */
export interface SignatureOption {
  option: string
  description: string
  choices?: readonly string[]
  default?: string
}

/** The options of every signature scheme, each once, in the order above. */
export function signatureOptions (): SignatureOption[] {
  const options = new Map<string, SignatureOption>()
  for (const spec of Object.values(SIGNATURE_OPTIONS) as SignatureOptionSpec[]) {
    if (!options.has(spec.option)) options.set(spec.option, { option: spec.option, description: spec.description })
    const method = spec.method
    if (method !== undefined && !options.has(method.option)) {
      options.set(method.option, { option: method.option, description: method.description, choices: method.choices, default: method.default })
    }
  }
  return [...options.values()]
}
