/** The log levels --log-level takes, apart from the logger so that a command that never logs does not load pino. */

/** pino's levels, and `silent`: what --log-level takes. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** --log-level when none is given. */
export const DEFAULT_LOG_LEVEL = 'info'
