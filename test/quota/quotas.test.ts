// Client quotas as data and arithmetic: Kafka's resolution order, its sampled windows and token bucket, and
// its throttle-time formulas, on a fake clock.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { QuotaKind, QuotaResolver, alterClientQuotas, describeClientQuotas, entityKey, kNoClientQuotas, parseEntity, type ClientQuotaConfigs } from '../../src/quota/client-quotas.ts'
import { SampledRate, TokenBucket, bucketThrottleTimeMs, rateThrottleTimeMs } from '../../src/quota/rate.ts'
import { QuotaSensors } from '../../src/quota/quota-sensors.ts'

const windows = { samples: 11, windowMs: 1000 }

function configsOf (...records: Array<[Record<string, string | null>, Record<string, number>]>): ClientQuotaConfigs {
  const entries = records.map(([entity, values]) => ({
    entity: Object.entries(entity).map(([entityType, entityName]) => ({ entityType, entityName })),
    ops: Object.entries(values).map(([key, value]) => ({ key, value, remove: false }))
  }))
  const altered = alterClientQuotas(kNoClientQuotas, entries, false)
  assert.deepEqual(altered.results.map((r) => r.errorMessage), records.map(() => null))
  return altered.configs
}

test('a quota resolves in Kafka\'s order, from /config/users/<user>/clients/<client-id> down to /config/clients/<default>', () => {
  const levels: Array<[Record<string, string | null>, number]> = [
    [{ user: 'alice', 'client-id': 'app' }, 1],
    [{ user: 'alice', 'client-id': null }, 2],
    [{ user: 'alice' }, 3],
    [{ user: null, 'client-id': 'app' }, 4],
    [{ user: null, 'client-id': null }, 5],
    [{ user: null }, 6],
    [{ 'client-id': 'app' }, 7],
    [{ 'client-id': null }, 8]
  ]
  // Remove the most specific level one at a time: each time the next one applies.
  for (let first = 0; first < levels.length; first++) {
    const configs = configsOf(...levels.slice(first).map(([entity, value]): [Record<string, string | null>, Record<string, number>] => [entity, { producer_byte_rate: value }]))
    const resolved = new QuotaResolver(configs).resolve(QuotaKind.PRODUCE, 'alice', 'app')
    assert.equal(resolved?.bound, levels[first][1], `with levels ${first + 1}..8`)
  }
  // Another user and client fall through to the defaults.
  const all = new QuotaResolver(configsOf(...levels.map(([entity, value]): [Record<string, string | null>, Record<string, number>] => [entity, { producer_byte_rate: value }])))
  assert.equal(all.resolve(QuotaKind.PRODUCE, 'bob', 'other')?.bound, 5)
  assert.equal(all.resolve(QuotaKind.FETCH, 'alice', 'app'), null)
})

test('each quota key resolves on its own, and the sensor is shared at the level that matched', () => {
  const resolver = new QuotaResolver(configsOf(
    [{ user: 'alice', 'client-id': 'app' }, { consumer_byte_rate: 100 }],
    [{ user: 'alice' }, { producer_byte_rate: 200 }],
    [{ 'client-id': null }, { request_percentage: 50 }]
  ))
  assert.deepEqual(resolver.enabled, [true, true, true, false])
  assert.equal(resolver.resolve(QuotaKind.PRODUCE, 'alice', 'app')?.bound, 200)
  assert.equal(resolver.resolve(QuotaKind.FETCH, 'alice', 'app')?.bound, 100)
  // A /config/users/alice quota is one sensor for all of alice's clients; a client-id default, one per client.
  assert.equal(resolver.resolve(QuotaKind.PRODUCE, 'alice', 'a')?.sensorKey, resolver.resolve(QuotaKind.PRODUCE, 'alice', 'b')?.sensorKey)
  assert.notEqual(resolver.resolve(QuotaKind.REQUEST, 'x', 'a')?.sensorKey, resolver.resolve(QuotaKind.REQUEST, 'x', 'b')?.sensorKey)
  assert.equal(resolver.resolve(QuotaKind.REQUEST, 'x', 'a')?.sensorKey, resolver.resolve(QuotaKind.REQUEST, 'y', 'a')?.sensorKey)
  assert.equal(new QuotaResolver(kNoClientQuotas).any, false)
})

test('the rate is the windows\' sum over at least samples - 1 windows, and old windows expire', () => {
  const rate = new SampledRate(windows, 0)
  rate.record(1000, 0)
  // One window elapsed of the 10 whole ones the rate is taken over at least.
  assert.equal(rate.windowSizeMs(500), 10_500)
  assert.equal(rate.measure(500), 1000 / 10.5)
  for (let second = 1; second <= 12; second++) rate.record(1000, second * 1000)
  // 11 windows kept (2..12 s); at 12.5 s the oldest began at 2 s.
  assert.equal(rate.windowSizeMs(12_500), 10_500)
  assert.equal(rate.measure(12_500), 11_000 / 10.5)
  // Everything is older than 11 windows a long while later.
  assert.equal(rate.measure(100_000), 0)
})

test('the throttle time is Kafka\'s (O - T) / T * W', () => {
  const rate = new SampledRate(windows, 0)
  rate.record(2100, 0)
  // O = 2100 / 10.5 s = 200/s against T = 100/s over W = 10.5 s: 10.5 s.
  assert.equal(rateThrottleTimeMs(rate, 100, 500), 10_500)
  assert.equal(rateThrottleTimeMs(rate, 200, 500), 0)
  // request_percentage throttles are capped at one window.
  assert.equal(rateThrottleTimeMs(rate, 100, 500, 1000), 1000)
  const sensors = new QuotaSensors()
  const quota = { bound: 1000, sensorKey: 'k' }
  assert.equal(sensors.recordRate(quota, QuotaKind.PRODUCE, 5000, windows, 0), 0)
  // 15750 bytes at 0 ms, over the least window of 10 s = 1575/s: (1575 - 1000) / 1000 * 10 s.
  assert.equal(sensors.recordRate(quota, QuotaKind.PRODUCE, 10_750, windows, 0), 5750)
  sensors.unrecordRate(quota, 10_750, windows, 0)
  assert.equal(sensors.recordRate(quota, QuotaKind.PRODUCE, 0, windows, 0), 0)
})

test('the token bucket starts full at samples * window * rate, refills at the rate, and throttles for -tokens / rate', () => {
  const bucket = new TokenBucket(windows, 2, 0)
  assert.equal(bucket.tokens(2, 0), 22)
  bucket.record(30, 2, 0)
  assert.equal(bucketThrottleTimeMs(bucket, 2, 0), 4000)
  assert.equal(bucketThrottleTimeMs(bucket, 2, 1000), 3000)
  assert.equal(bucketThrottleTimeMs(bucket, 2, 4000), 0)
  assert.equal(bucket.tokens(2, 1_000_000), 22)

  // Strict: accepted while tokens remain (the last one may overdraw), refused below zero; permissive: recorded.
  const sensors = new QuotaSensors()
  const quota = { bound: 1, sensorKey: 'm' }
  const out = { throttleTimeMs: 0 }
  assert.equal(sensors.recordMutation(quota, 10, true, windows, 0, out), true)
  assert.equal(sensors.recordMutation(quota, 5, true, windows, 0, out), true)
  assert.equal(out.throttleTimeMs, 0)
  assert.equal(sensors.recordMutation(quota, 1, true, windows, 0, out), false)
  assert.equal(out.throttleTimeMs, 4000)
  const permissive = { throttleTimeMs: 0 }
  assert.equal(sensors.recordMutation(quota, 1, false, windows, 0, permissive), true)
  assert.equal(permissive.throttleTimeMs, 5000)
})

test('Alter validates entities, keys and values entry by entry; validateOnly changes nothing', () => {
  const entry = (entity: Record<string, string | null>, ops: Array<[string, number, boolean?]>) => ({
    entity: Object.entries(entity).map(([entityType, entityName]) => ({ entityType, entityName })),
    ops: ops.map(([key, value, remove]) => ({ key, value, remove: remove === true }))
  })
  const altered = alterClientQuotas(kNoClientQuotas, [
    entry({ user: 'alice' }, [['producer_byte_rate', 1024]]),
    entry({}, [['producer_byte_rate', 1]]),
    entry({ group: 'g' }, [['producer_byte_rate', 1]]),
    entry({ user: 'a', ip: '1.2.3.4' }, [['producer_byte_rate', 1]]),
    entry({ ip: 'not an ip' }, [['connection_creation_rate', 1]]),
    entry({ ip: '10.0.0.1' }, [['connection_creation_rate', 5]]),
    entry({ ip: null }, [['producer_byte_rate', 5]]),
    entry({ user: 'b' }, [['no_such_key', 5]]),
    entry({ user: 'b' }, [['producer_byte_rate', 1.5]]),
    entry({ user: 'b' }, [['producer_byte_rate', -1]]),
    entry({ user: 'b' }, [['request_percentage', 12.5], ['request_percentage', 13]]),
    entry({ 'client-id': null }, [['request_percentage', 12.5]])
  ], false)
  assert.deepEqual(altered.results.map((r) => r.errorCode), [0, 42, 42, 42, 42, 0, 42, 42, 42, 42, 42, 0])
  assert.ok(altered.results.every((r) => (r.errorCode === 0) === (r.errorMessage === null)))
  assert.deepEqual(altered.configs.map((r) => [entityKey(r.entity), r.values]), [
    [entityKey({ user: 'alice' }), { producer_byte_rate: 1024 }],
    [entityKey({ ip: '10.0.0.1' }), { connection_creation_rate: 5 }],
    [entityKey({ clientId: null }), { request_percentage: 12.5 }]
  ])
  // Removing the last value drops the entity; validateOnly leaves everything as it was.
  const checked = alterClientQuotas(altered.configs, [entry({ user: 'alice' }, [['producer_byte_rate', 0, true]])], true)
  assert.equal(checked.changed, false)
  assert.equal(checked.configs, altered.configs)
  const removed = alterClientQuotas(altered.configs, [entry({ user: 'alice' }, [['producer_byte_rate', 0, true]])], false)
  assert.equal(removed.configs.length, 2)
  assert.equal(typeof parseEntity([{ entityType: 'user', entityName: 'a' }, { entityType: 'user', entityName: 'b' }]), 'string')
})

test('Describe matches EXACT, DEFAULT and SPECIFIED components, strict or not, and refuses bad filters', () => {
  const configs = configsOf(
    [{ user: 'alice', 'client-id': 'app' }, { producer_byte_rate: 1 }],
    [{ user: 'alice' }, { producer_byte_rate: 2 }],
    [{ user: null }, { producer_byte_rate: 3 }],
    [{ user: null, 'client-id': null }, { producer_byte_rate: 4 }],
    [{ 'client-id': 'app' }, { consumer_byte_rate: 5 }],
    [{ ip: '1.2.3.4' }, { connection_creation_rate: 6 }]
  )
  const values = (components: Array<[string, number, string | null]>, strict: boolean): number[] => {
    const result = describeClientQuotas(configs, components.map(([entityType, matchType, match]) => ({ entityType, matchType, match })), strict)
    assert.equal(result.errorCode, 0, result.errorMessage ?? '')
    return result.entries!.map((e) => e.values[0].value).sort()
  }
  assert.deepEqual(values([['user', 0, 'alice']], false), [1, 2])
  assert.deepEqual(values([['user', 0, 'alice']], true), [2])
  assert.deepEqual(values([['user', 1, null]], false), [3, 4])
  assert.deepEqual(values([['user', 1, null]], true), [3])
  assert.deepEqual(values([['user', 2, null]], false), [1, 2])
  assert.deepEqual(values([['client-id', 2, null]], false), [1, 5])
  assert.deepEqual(values([['user', 1, null], ['client-id', 1, null]], true), [4])
  assert.deepEqual(values([['ip', 2, null]], false), [6])
  assert.deepEqual(values([], false), [1, 2, 3, 4, 5, 6])
  assert.deepEqual(values([], true), [])
  // The entity comes back in the wire's form, defaults as null names.
  const described = describeClientQuotas(configs, [{ entityType: 'user', matchType: 1, match: null }, { entityType: 'client-id', matchType: 1, match: null }], true)
  assert.deepEqual(described.entries, [{ entity: [{ entityType: 'user', entityName: null }, { entityType: 'client-id', entityName: null }], values: [{ key: 'producer_byte_rate', value: 4 }] }])
  for (const bad of [
    [{ entityType: 'user', matchType: 0, match: null }],
    [{ entityType: 'user', matchType: 1, match: 'x' }],
    [{ entityType: 'user', matchType: 2, match: 'x' }],
    [{ entityType: 'user', matchType: 7, match: null }],
    [{ entityType: 'group', matchType: 2, match: null }],
    [{ entityType: '', matchType: 2, match: null }],
    [{ entityType: 'user', matchType: 2, match: null }, { entityType: 'user', matchType: 1, match: null }],
    [{ entityType: 'ip', matchType: 2, match: null }, { entityType: 'user', matchType: 2, match: null }]
  ]) {
    const result = describeClientQuotas(configs, bad, false)
    assert.equal(result.errorCode, 42, JSON.stringify(bad))
    assert.equal(result.entries, null)
    assert.ok(result.errorMessage !== null)
  }
})

test('a throttle never exceeds what throttle_time_ms (an int32) can carry', () => {
  const rate = new SampledRate(windows, 0)
  rate.record(1e12, 0)
  assert.equal(rateThrottleTimeMs(rate, 1, 0), 2 ** 31 - 1)
  const bucket = new TokenBucket(windows, 1e-9, 0)
  bucket.record(1e6, 1e-9, 0)
  assert.equal(bucketThrottleTimeMs(bucket, 1e-9, 0), 2 ** 31 - 1)
})

test('a quota holds across workers: each judges by its own rate plus the rates the others shared lately', () => {
  const resolver = new QuotaResolver(configsOf([{ 'client-id': 'shared' }, { producer_byte_rate: 1000 }]))
  const quota = resolver.resolve(QuotaKind.PRODUCE, 'ANONYMOUS', 'shared')!
  const workerA = new QuotaSensors()
  const workerB = new QuotaSensors()
  // Nothing recorded, nothing shared: no share goes out at all.
  assert.equal(workerA.ratesToShare(0), null)
  // Worker A's connection sends 8,000 B (800 B/s over the windows' minimum span of 10 s): within the quota.
  assert.equal(workerA.recordRate(quota, QuotaKind.PRODUCE, 8000, windows, 0), 0)
  const share = workerA.ratesToShare(10)!
  assert.deepEqual(share.map(([key]) => key), [quota.sensorKey])
  assert.ok(share[0][1] > 0)
  // Worker B's connection (same client id) sends as much: alone within the quota, with A's share above it.
  const alone = new QuotaSensors()
  assert.equal(alone.recordRate(quota, QuotaKind.PRODUCE, 8000, windows, 10), 0)
  workerB.acceptPeerRates(0, JSON.parse(JSON.stringify(share)), 10)
  assert.equal(workerB.peerRate(quota.sensorKey, 20), share[0][1])
  const throttle = workerB.recordRate(quota, QuotaKind.PRODUCE, 8000, windows, 20)
  const own = new SampledRate(windows, 20)
  own.record(8000, 20)
  assert.equal(throttle, rateThrottleTimeMs(own, 1000, 20, Infinity, share[0][1]))
  assert.ok(throttle > 0)
  // A share counts for a second after it was sent; a later one replaces it; an empty one clears it.
  assert.equal(workerB.peerRate(quota.sensorKey, 10 + 1001), 0)
  workerB.acceptPeerRates(0, [[quota.sensorKey, 5]], 2000)
  assert.equal(workerB.peerRate(quota.sensorKey, 2000), 5)
  workerB.acceptPeerRates(0, [], 2100)
  assert.equal(workerB.peerRate(quota.sensorKey, 2100), 0)
  // A worker that stops measuring sends one empty share, then nothing.
  assert.deepEqual(workerA.ratesToShare(60_000), [])
  assert.equal(workerA.ratesToShare(60_250), null)
  // Garbage in a share is skipped, never a NaN throttle; a dead worker's share is forgotten.
  workerB.acceptPeerRates(1, [[quota.sensorKey, Number.NaN], [quota.sensorKey], 'x', [7, 1], [quota.sensorKey, -1], [quota.sensorKey, 3]], 2100)
  assert.equal(workerB.peerRate(quota.sensorKey, 2100), 3)
  workerB.acceptPeerRates(1, 'not an array', 2100)
  assert.equal(workerB.peerRate(quota.sensorKey, 2100), 3)
  workerB.forgetPeer(1)
  assert.equal(workerB.peerRate(quota.sensorKey, 2100), 0)
})

test('controller mutations spent on one worker are spent from the others\' buckets too', () => {
  const resolver = new QuotaResolver(configsOf([{ 'client-id': null }, { controller_mutation_rate: 1 }]))
  const quota = resolver.resolve(QuotaKind.CONTROLLER_MUTATION, 'ANONYMOUS', 'admin')!
  const short = { samples: 2, windowMs: 1000 }
  const workerA = new QuotaSensors()
  const workerB = new QuotaSensors()
  assert.equal(workerA.mutationsToShare(), null)
  // The bucket holds 2 permits (2 windows x 1 s x 1/s): A spends 5 (a strict mutation may take it below zero).
  const out = { throttleTimeMs: 0 }
  assert.equal(workerA.recordMutation(quota, 5, true, short, 0, out), true)
  const mutations = workerA.mutationsToShare()!
  assert.deepEqual(mutations, [[quota.sensorKey, 5, 1]])
  assert.equal(workerA.mutationsToShare(), null)
  // Alone, B would accept a strict mutation; with A's spending applied it refuses, with A's throttle.
  const alone = new QuotaSensors()
  assert.equal(alone.recordMutation(quota, 1, true, short, 0, { throttleTimeMs: 0 }), true)
  workerB.acceptPeerMutations(JSON.parse(JSON.stringify(mutations)), short, 0)
  const refused = { throttleTimeMs: 0 }
  assert.equal(workerB.recordMutation(quota, 1, true, short, 0, refused), false)
  assert.equal(refused.throttleTimeMs, 3000)
  // A refused mutation spends nothing, so B has nothing to share; garbage is skipped.
  assert.equal(workerB.mutationsToShare(), null)
  workerB.acceptPeerMutations([['x', Number.NaN, 1], ['x', 1, 0], ['x', -1, 1], [1, 1, 1], 'y'], short, 0)
  workerB.acceptPeerMutations('not an array', short, 0)
  assert.equal(new QuotaSensors().recordMutation(quota, 1, true, short, 0, { throttleTimeMs: 0 }), true)
})
