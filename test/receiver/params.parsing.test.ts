import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mergeFields, parseBodyFields, parseParams } from '../../src/receiver/params.js'

const body = (text: string): Record<string, unknown> => {
  const buf = Buffer.from(text, 'utf8')
  return parseBodyFields(buf, buf.toString('utf8'))
}

test('parseParams: percent-decoding, + as space, repeats as arrays, empty values', () => {
  const p = parseParams('a=1&b=hello+world&c=%C3%A0%20demain&a=2&a=3&d=&e&plus=%2B33')
  assert.deepEqual({ ...p }, { a: ['1', '2', '3'], b: 'hello world', c: 'à demain', d: '', e: '', plus: '+33' })
  assert.deepEqual({ ...parseParams('') }, {})
})

test('JSON is detected by the first non-blank byte, whatever the content type', () => {
  assert.deepEqual({ ...body('{"a":1,"b":{"c":[1,2]}}') }, { a: 1, b: { c: [1, 2] } })
  assert.deepEqual({ ...body(' \r\n\t{"a":"x"}') }, { a: 'x' })
  assert.deepEqual({ ...body('\uFEFF{"a":"bom"}') }, { a: 'bom' })
  // Starts with `{` but does not parse: nothing, not a form.
  assert.deepEqual({ ...body('{"a":1') }, {})
  // A JSON array (Bandwidth's batches): its items keyed by index.
  assert.deepEqual({ ...body('[1,{"a":2}]') }, { 0: 1, 1: { a: 2 } })
  assert.deepEqual({ ...body(' [] ') }, {})
  // Other JSON that is not an object, or a `[` that does not parse, is a form, never JSON.
  assert.deepEqual({ ...body('[1,2') }, { '[1,2': '' })
  assert.deepEqual({ ...body('"a"') }, { '"a"': '' })
  assert.deepEqual({ ...body('a=1&b=2') }, { a: '1', b: '2' })
  assert.deepEqual({ ...body('') }, {})
  assert.deepEqual({ ...body('   \n') }, {})
})

test('__proto__ and constructor stay plain keys; Object.prototype is untouched', () => {
  const form = body('__proto__=x&constructor=y&prototype=z&__proto__[polluted]=1')
  assert.equal(Object.getOwnPropertyDescriptor(form, '__proto__')?.value, 'x')
  assert.equal(Object.getOwnPropertyDescriptor(form, 'constructor')?.value, 'y')
  const json = body('{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}')
  assert.deepEqual(Object.getOwnPropertyDescriptor(json, '__proto__')?.value, { polluted: 'yes' })
  assert.ok(Object.keys(json).includes('__proto__'))
  const q = parseParams('__proto__=q&constructor=c')
  const merged = mergeFields(q, json)
  assert.deepEqual(Object.keys(merged).sort(), ['__proto__', 'constructor'])
  assert.deepEqual(Object.getOwnPropertyDescriptor(merged, '__proto__')?.value, { polluted: 'yes' })
  assert.equal(({} as Record<string, unknown>).polluted, undefined)
  assert.equal(Object.hasOwn(Object.prototype, 'polluted'), false)
  // JSON.stringify keeps them as keys.
  assert.equal(JSON.stringify(merged), '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}')
})

test('mergeFields: the body wins on a clash, query-only keys stay', () => {
  const merged = mergeFields(parseParams('a=q&only=q&r=1&r=2'), body('a=b&x=b'))
  assert.deepEqual({ ...merged }, { a: 'b', only: 'q', r: ['1', '2'], x: 'b' })
})

test('invalid UTF-8 in a form still parses, with replacement characters', () => {
  const buf = Buffer.concat([Buffer.from('text=caf'), Buffer.from([0xe9]), Buffer.from('&n=1')])
  const fields = parseBodyFields(buf, buf.toString('utf8'))
  assert.deepEqual({ ...fields }, { text: 'caf\uFFFD', n: '1' })
})
