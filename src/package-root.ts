/**
 * The package's root folder: one level above this file, which sits directly in src/ (run by tsx)
 * or in dist/ (built, bundled into dist/main.cjs) alike.
 */
import { fileURLToPath } from 'node:url'

export const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url))
