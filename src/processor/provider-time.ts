/** The processor's name for the providers' zoned-time reader (it lives with the profiles that use it). */
export { ZonedTimeReader } from '../providers/zoned-time.js'
