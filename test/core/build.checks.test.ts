/**
 * build.mjs's checks of dist/main.cjs: it must be ASCII (bin reads it as latin1) and hold no
 * dynamic import() (code from V8's code cache cannot run one). Each check is shown a bundle that
 * breaks it, built by esbuild as build.mjs builds, and the built CLI, which keeps both.
 */
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { test } from 'node:test'
import { build, type BuildOptions, type Metafile } from 'esbuild'
import { tempDir } from '../helpers/tmp.js'

const root = join(import.meta.dirname, '..', '..')
// build.mjs is plain JavaScript: its one export, typed here.
const { checkBundle } = await import(pathToFileURL(join(root, 'build.mjs')).href) as { checkBundle: (code: Uint8Array, metafile: Metafile) => void }

/** `source` bundled as build.mjs bundles the CLI (CommonJS for Node), in memory. */
async function bundle (dir: string, source: string, options: BuildOptions = {}): Promise<{ code: Uint8Array, metafile: Metafile }> {
  const entry = join(dir, 'entry.ts')
  await writeFile(entry, source)
  const result = await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', write: false, metafile: true, outfile: join(dir, 'out.cjs'), logLevel: 'silent', ...options })
  assert.ok(result.outputFiles !== undefined && result.metafile !== undefined)
  return { code: result.outputFiles[0]!.contents, metafile: result.metafile }
}

test('the built CLI passes both checks', async () => {
  const code = await readFile(join(root, 'dist', 'main.cjs'))
  assert.doesNotThrow(() => checkBundle(code, { inputs: {}, outputs: {} }))
})

test('a dynamic import() in the bundle is refused, named', async (t) => {
  const dir = await tempDir(t)
  const { code, metafile } = await bundle(dir, "export const load = async (): Promise<unknown> => await import('node:os')\n")
  assert.throws(() => checkBundle(code, metafile), /must not import\(\) at run time: node:os/)
  const plain = await bundle(dir, "import { hostname } from 'node:os'\nexport const name = hostname()\n")
  assert.doesNotThrow(() => checkBundle(plain.code, plain.metafile))
})

test('a character past ASCII is refused; esbuild\'s default charset escapes it', async (t) => {
  const dir = await tempDir(t)
  const source = "export const word = 'réception'\n"
  const utf8 = await bundle(dir, source, { charset: 'utf8' })
  assert.throws(() => checkBundle(utf8.code, utf8.metafile), /must be ASCII/)
  const escaped = await bundle(dir, source)
  assert.doesNotThrow(() => checkBundle(escaped.code, escaped.metafile))
})
