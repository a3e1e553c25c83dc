/**
 * node-cron, in a module of its own that `process` imports only for `--schedule`: one pass (cron,
 * the benchmark) does not pay its loading. Imported here statically, so that the bundle requires
 * it when this module is first imported (build.mjs: dist/main.cjs holds no import()).
 */
import cron from 'node-cron'

export default cron
