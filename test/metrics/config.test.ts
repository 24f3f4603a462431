import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ConfigError, parseConfig } from '../../src/config/config.ts'

test('--metrics-listen is off by default, and takes HOST:PORT from the flag or SHOAL_METRICS_LISTEN', () => {
  assert.equal(parseConfig([]).metricsHost, null)
  const fromFlag = parseConfig(['--metrics-listen', '127.0.0.1:0'])
  assert.equal(fromFlag.metricsHost, '127.0.0.1')
  assert.equal(fromFlag.metricsPort, 0)
  const fromEnv = parseConfig([], { SHOAL_METRICS_LISTEN: '0.0.0.0:9404' })
  assert.equal(fromEnv.metricsHost, '0.0.0.0')
  assert.equal(fromEnv.metricsPort, 9404)
  assert.equal(parseConfig(['--metrics-listen=[::1]:9404'], { SHOAL_METRICS_LISTEN: '0.0.0.0:1' }).metricsHost, '::1')
})

test('--metrics-listen without a port is refused', () => {
  assert.throws(() => parseConfig(['--metrics-listen', 'localhost']), ConfigError)
  assert.throws(() => parseConfig(['--metrics-listen', 'localhost:70000']), ConfigError)
})
