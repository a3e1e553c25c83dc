/**
 * `npm run build`: src/ bundled into dist/ by esbuild, one chunk per command's own modules, so
 * that each command loads what it runs and not the ~100 files of the whole tree (half of a
 * command's start-up was Node resolving and reading those one by one). The type check is
 * `npm run typecheck` (tsc). The database and NATS drivers, node-cron and tsx stay in
 * node_modules, loaded only by the commands that use them; commander and pino are bundled.
 * dist/main.js is the CLI (bin/callback-spool.js), dist/module-worker.js the module target's
 * worker thread.
 */
import { rmSync } from 'node:fs'
import { build } from 'esbuild'

rmSync('dist', { recursive: true, force: true })
await build({
  entryPoints: { main: 'src/main.ts', 'module-worker': 'src/processor/handlers/module-worker.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  sourcemap: true,
  external: ['pg', 'mysql2', '@nats-io/*', 'node-cron', 'tsx'],
  // The bundled CommonJS packages (commander, pino) call require() for Node's own modules.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
})
