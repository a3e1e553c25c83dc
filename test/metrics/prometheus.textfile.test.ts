import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Histogram, Registry, readMetric, renderMetrics } from '../../src/metrics/prometheus.js'
import { parseExposition, sampleValue } from '../helpers/prometheus-text.js'

test('counters and gauges are read at render time, with escaped labels and help', () => {
  let n = 1
  const registry = new Registry()
  registry.register(readMetric('counter', 'x_total', 'a help\nwith a \\ newline', () => n))
  registry.register(readMetric('gauge', 'y', 'labelled', () => [{ labels: { path: 'a"b\\c\nd' }, value: 2.5 }]))
  n = 7
  const text = registry.render()
  assert.match(text, /^# HELP x_total a help\\nwith a \\\\ newline$/m)
  assert.match(text, /^y\{path="a\\"b\\\\c\\nd"\} 2\.5$/m)
  const parsed = parseExposition(text)
  assert.equal(sampleValue(parsed, 'x_total'), 7)
  assert.equal(sampleValue(parsed, 'y', { path: 'a"b\\c\nd' }), 2.5)
  assert.equal(parsed.types.get('x_total'), 'counter')
})

test('a histogram renders cumulative buckets, +Inf, sum and count', () => {
  const h = new Histogram('lat_seconds', 'latency', [0.1, 0.01, 1])
  for (const v of [0.005, 0.05, 0.05, 0.5, 3]) h.observe(v)
  const parsed = parseExposition(renderMetrics([h]))
  assert.equal(parsed.types.get('lat_seconds'), 'histogram')
  assert.equal(sampleValue(parsed, 'lat_seconds_bucket', { le: '0.01' }), 1)
  assert.equal(sampleValue(parsed, 'lat_seconds_bucket', { le: '0.1' }), 3)
  assert.equal(sampleValue(parsed, 'lat_seconds_bucket', { le: '1' }), 4)
  assert.equal(sampleValue(parsed, 'lat_seconds_bucket', { le: '+Inf' }), 5)
  assert.equal(sampleValue(parsed, 'lat_seconds_count'), 5)
  assert.ok(Math.abs(sampleValue(parsed, 'lat_seconds_sum')! - 3.605) < 1e-9)
})

test('bad names and duplicate registrations are refused', () => {
  assert.throws(() => readMetric('gauge', 'bad-name', 'x', () => 1))
  const registry = new Registry()
  registry.register(readMetric('gauge', 'g', 'x', () => 1))
  assert.throws(() => registry.register(readMetric('gauge', 'g', 'x', () => 1)), /twice/)
})
