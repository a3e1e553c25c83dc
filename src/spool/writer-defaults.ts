/**
 * The spool writer's defaults, apart from the writer: the CLI defines every command's options
 * from them and should not load the writer to do so.
 */
export type Durability = 'fsync' | 'os'

export const DEFAULT_DURABILITY: Durability = 'fsync'
/** Seal a segment when a batch would take it past this size. */
export const DEFAULT_ROTATE_BYTES = 64 * 1024 * 1024
/** Seal a segment once it is this old. */
export const DEFAULT_ROTATE_AGE_MS = 60 * 60 * 1000
