/**
 * The signature options are declared apart from the profiles (so that the CLI lists them without
 * loading the profiles): each signing profile's options are one entry of that table, and the
 * table has no entry that no profile uses.
 */
import assert from 'node:assert/strict'
import test from 'node:test'
import { PROFILES } from '../../src/providers/index.js'
import { SIGNATURE_OPTIONS, signatureOptions } from '../../src/providers/signature-options.js'

test('every option of a signing profile is in the table, and every entry of the table is a profile\'s', () => {
  const fromProfiles = new Set(PROFILES.flatMap((p) => p.signature === undefined ? [] : [p.signature.option, ...(p.signature.method === undefined ? [] : [p.signature.method.option])]))
  const listed = signatureOptions().map((o) => o.option)
  assert.deepEqual(new Set(listed), fromProfiles)
  assert.equal(listed.length, fromProfiles.size, 'each option listed once')
  for (const profile of PROFILES) {
    if (profile.signature === undefined) continue
    const { create: _create, ...spec } = profile.signature
    assert.ok(Object.values(SIGNATURE_OPTIONS).some((entry) => JSON.stringify(entry) === JSON.stringify(spec)), `${profile.name}'s signature options are an entry of SIGNATURE_OPTIONS`)
  }
})
