/**
 * `npm run build`: src/ bundled into dist/ by esbuild. The type check is `npm run typecheck` (tsc).
 *
 * dist/main.cjs is the whole CLI in one CommonJS file: a command runs only the modules it reaches
 * (esbuild initialises a module reached by a dynamic import when it is first imported, and its
 * require() of Node's own modules with it), and Node neither resolves nor links a module graph
 * at start-up, as it does for ES modules (31 chunks for `status` when it was split by command).
 * bin/callback-spool.js compiles it with V8's code cache, dist/main.cjs.cache, made here by
 * running a one-record pass once: the functions it compiled are not compiled again at each start.
 * dist/module-worker.js, the module target's worker thread, stays an ES module.
 * The database and NATS drivers, node-cron and tsx stay in node_modules, loaded by a dynamic
 * import only by the commands that use them; commander and pino are bundled.
 */
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

/**
 * Modules that packages we bundle require when they load but use only on paths this CLI does not
 * take at start-up; each is compiled at every start for nothing. Here they are loaded on first
 * use instead, by a stand-in that loads the module when it is first called, constructed or read:
 * - commander requires node:child_process (and node:net with it) for subcommands that are
 *   executables of their own, which this CLI has none of;
 * - pino requires thread-stream (node:worker_threads, node:assert) for transports, which the
 *   CLI does not use, and sonic-boom node:assert for the checks of a few rare calls.
 */
const ON_USE = [
  { importer: '/node_modules/commander/', module: /^(node:)?child_process$/ },
  { importer: '/node_modules/pino/lib/transport.js', module: /^thread-stream$/ },
  { importer: '/node_modules/sonic-boom/', module: /^(node:)?assert$/ },
]
const loadOnUse = {
  name: 'load-on-use',
  setup (build) {
    for (const { importer, module } of ON_USE) {
      build.onResolve({ filter: module }, (args) =>
        args.importer.includes(importer) ? { path: args.path, namespace: 'on-use' } : undefined)
    }
    build.onLoad({ filter: /.*/, namespace: 'on-use' }, (args) => ({
      contents: `let loaded; const load = () => (loaded ??= require(${JSON.stringify(args.path)}));
module.exports = new Proxy(function () {}, {
  get: (_, name) => load()[name],
  apply: (_, self, args) => Reflect.apply(load(), self, args),
  construct: (_, args) => Reflect.construct(load(), args),
})`,
      loader: 'js',
      resolveDir: process.cwd(),
    }))
    // pino's tools.js reads worker_threads' isMainThread when it loads, for a stream that is not
    // synchronous (src/logger.ts writes synchronously): read when it is first needed instead.
    build.onLoad({ filter: /\/node_modules\/pino\/lib\/tools\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8')
      const patched = source
        .replace("const { isMainThread } = require('worker_threads')", "const isMainThread = () => require('worker_threads').isMainThread")
        .replace('if (!opts.sync && isMainThread) {', 'if (!opts.sync && isMainThread()) {')
      if (patched.split('isMainThread()').length !== 2 || patched.includes('{ isMainThread }')) throw new Error(`${args.path}: its use of isMainThread has changed; see loadOnUse in build.mjs`)
      return { contents: patched, loader: 'js' }
    })
  },
}

/**
 * What dist/main.cjs must be, checked after each build (test/core/build.checks.test.ts checks the
 * checks); throws when it is not:
 * - ASCII: bin reads it as latin1, one byte a character, without decoding UTF-8; esbuild escapes
 *   every character past ASCII (its default charset);
 * - without a dynamic import(): code from V8's code cache cannot run one
 *   (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING). A package loaded on demand is imported statically by
 *   a module of its own that is imported on demand (src/processor/node-cron.ts), which the bundle
 *   turns into a require() when first used.
 */
export function checkBundle (code, metafile) {
  if (code.some((byte) => byte > 0x7f)) throw new Error('dist/main.cjs must be ASCII: bin reads it as latin1')
  const dynamic = Object.values(metafile.outputs).flatMap((output) => output.imports).filter((i) => i.kind === 'dynamic-import')
  if (dynamic.length > 0) throw new Error(`dist/main.cjs must not import() at run time: ${dynamic.map((i) => i.path).join(', ')}`)
}

/** src/ into dist/, checked, and the code cache made. */
async function buildAll () {
  rmSync('dist', { recursive: true, force: true })
  const common = {
    bundle: true,
    platform: 'node',
    target: 'node20.19',
    sourcemap: true,
    external: ['pg', 'mysql2', '@nats-io/*', 'node-cron', 'tsx'],
    logLevel: 'warning',
  }
  const cli = await build({
    ...common,
    metafile: true,
    entryPoints: ['src/main.ts'],
    outfile: 'dist/main.cjs',
    format: 'cjs',
    plugins: [loadOnUse],
    minifyWhitespace: true,
    minifySyntax: true,
    // import.meta of the ES modules in src/: this file's URL, and a resolve() by its require.
    define: { 'import.meta.url': '__import_meta_url', 'import.meta.resolve': '__import_meta_resolve' },
    // The file is the function Node would wrap a CommonJS module in, written out: bin compiles it as
    // it is, without a second copy of the whole text made by wrapping it at each start.
    banner: {
      js: '(function (exports, require, module, __filename, __dirname) {\n' +
        "const __import_meta_url = require('node:url').pathToFileURL(__filename).href;\n" +
        "const __import_meta_resolve = (specifier) => require('node:url').pathToFileURL(require.resolve(specifier)).href;",
    },
    footer: { js: '})' },
  })
  checkBundle(readFileSync('dist/main.cjs'), cli.metafile)
  await build({
    ...common,
    entryPoints: ['src/processor/handlers/module-worker.ts'],
    outfile: 'dist/module-worker.js',
    format: 'esm',
    // The bundled CommonJS packages (pino) call require() for Node's own modules.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  })
  // The code cache, made by the Node that builds (another Node's V8 refuses it, and the CLI then
  // compiles as if there were none): the functions compiled by one pass of one record to an http
  // target, a one-shot processor's path from the command line to the hand-over (7 ms off its first
  // record here, 4 ms more for `status` to read); `--help` alone if that pass cannot run here.
  const cacheEnv = { ...process.env, CALLBACK_SPOOL_WRITE_CODE_CACHE: '1' }
  if (!await passForTheCodeCache(cacheEnv)) execFileSync(process.execPath, ['bin/callback-spool.js', '--help'], { env: cacheEnv, stdio: 'ignore' })
}

// Run as `node build.mjs` (`npm run build`); imported, it only lends checkBundle.
if (process.argv[1] === fileURLToPath(import.meta.url)) await buildAll()

/** One pass of the built CLI over a spool of one Octopush receipt, to a server of this process. */
async function passForTheCodeCache (env) {
  const dir = mkdtempSync(join(tmpdir(), 'callback-spool-build-'))
  const server = createServer((req, res) => { req.resume().on('end', () => res.end()) })
  try {
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const fields = { channel: 'sms', message_id: 'sms_0', number: '+33600000000', status: 'DELIVERED', delivery_date: '2020-11-04 11:11:45', meta_data: {} }
    const record = { v: 1, id: '01a250bc-6721-7e76-839f-abed2d3f01a0', received_at: '2026-01-01T00:00:00.000Z', method: 'POST', path: '/callbacks', query: {}, remote_addr: '203.0.113.7', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fields), fields }
    mkdirSync(join(dir, 'spool'))
    writeFileSync(join(dir, 'spool', '000000000001-20260101T000000000Z.ndjson'), `${JSON.stringify(record)}\n`)
    const pass = spawn(process.execPath, ['bin/callback-spool.js', 'process', '--data-dir', dir, '--log-level', 'warn', '--on', `*=http://127.0.0.1:${server.address().port}/`], { env, stdio: 'ignore' })
    const [code] = await once(pass, 'close')
    return code === 0
  } catch {
    return false
  } finally {
    server.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
