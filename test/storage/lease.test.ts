// The S3 prefix lease (src/storage/lease.ts) against a MemoryObjectStore, on a simulated clock: sleeping advances
// it, so the waits cost nothing and a "live" foreign holder is one that renews from inside the sleep hook.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { counterValue } from '../../src/counters.ts'
import { acquireLease, LeaseHeldError, loadOrCreateInstanceId, newInstanceId, readLease, type LeaseRecord } from '../../src/storage/lease.ts'
import { MemoryObjectStore } from '../../src/storage/memory-object-store.ts'
import { leaseKey } from '../../src/storage/object-format.ts'

const kPrefix = 'p/'
const kLeaseMs = 10_000
const kOurs = '00000000000000aa'
const kTheirs = '00000000000000bb'

interface Clock { nowMs: number, onSleep: (() => void) | null }

function clockOptions (clock: Clock): { now: () => number, sleep: (ms: number) => Promise<void> } {
  return {
    now: () => clock.nowMs,
    sleep: async (ms: number) => {
      clock.nowMs += ms
      clock.onSleep?.()
    }
  }
}

function writeLease (store: MemoryObjectStore, record: LeaseRecord): void {
  store.objects.set(leaseKey(kPrefix), { body: Buffer.from(JSON.stringify(record)), lastModifiedMs: 0 })
}

function theirs (renewedMs: number, released = false): LeaseRecord {
  return { instance: kTheirs, host: 'other-host', pid: 4242, renewedMs, released }
}

test('a free prefix is taken: lease.json then names this instance, host and pid', async () => {
  const store = new MemoryObjectStore()
  const clock: Clock = { nowMs: 1_000_000, onSleep: null }
  const lease = await acquireLease(store, kPrefix, { instance: kOurs, leaseMs: kLeaseMs, host: 'here', pid: 7, ...clockOptions(clock) })
  const record = await readLease(store, kPrefix)
  assert.equal(record?.instance, kOurs)
  assert.equal(record?.host, 'here')
  assert.equal(record?.pid, 7)
  assert.equal(record?.released, false)
  assert.equal(lease.lost, false)
})

test('our own, a released and a stale lease are taken at once', async () => {
  for (const record of [{ ...theirs(1_000_000), instance: kOurs }, theirs(999_999, true), theirs(1_000_000 - 2 * kLeaseMs - 1)]) {
    const store = new MemoryObjectStore()
    writeLease(store, record)
    const clock: Clock = { nowMs: 1_000_000, onSleep: null }
    await acquireLease(store, kPrefix, { instance: kOurs, leaseMs: kLeaseMs, ...clockOptions(clock) })
    assert.equal((await readLease(store, kPrefix))?.instance, kOurs)
    assert.ok(clock.nowMs - 1_000_000 <= 1000, 'no wait beyond the read-back delay')
  }
})

test('a live foreign lease (renewed while we wait) refuses with LeaseHeldError naming its holder', async () => {
  const store = new MemoryObjectStore()
  const clock: Clock = { nowMs: 1_000_000, onSleep: null }
  writeLease(store, theirs(clock.nowMs - 100))
  clock.onSleep = () => { if (clock.nowMs - 1_000_000 >= 3 * kLeaseMs / 5) writeLease(store, theirs(clock.nowMs)) }
  const lines: string[] = []
  await assert.rejects(
    acquireLease(store, kPrefix, { instance: kOurs, leaseMs: kLeaseMs, logger: { warn: (line: string) => lines.push(line), info () {} } as never, ...clockOptions(clock) }),
    (error: unknown) => error instanceof LeaseHeldError && /other-host/.test(error.message) && /4242/.test(error.message) && /"p\/"/.test(error.message))
  assert.match(lines[0], /waiting up to 10000 ms for the S3 prefix lease held by instance 00000000000000bb/)
  assert.equal((await readLease(store, kPrefix))?.instance, kTheirs, 'the holder keeps it')
})

test('a dead foreign lease (not renewed for leaseMs) is taken over', async () => {
  const store = new MemoryObjectStore()
  const clock: Clock = { nowMs: 1_000_000, onSleep: null }
  writeLease(store, theirs(clock.nowMs - 100))
  await acquireLease(store, kPrefix, { instance: kOurs, leaseMs: kLeaseMs, ...clockOptions(clock) })
  assert.ok(clock.nowMs - 1_000_000 >= kLeaseMs)
  assert.equal((await readLease(store, kPrefix))?.instance, kOurs)
})

test('losing the race for a free lease (another write lands before the read-back) refuses', async () => {
  const store = new MemoryObjectStore()
  const clock: Clock = { nowMs: 1_000_000, onSleep: null }
  clock.onSleep = () => writeLease(store, theirs(clock.nowMs))
  await assert.rejects(acquireLease(store, kPrefix, { instance: kOurs, leaseMs: kLeaseMs, ...clockOptions(clock) }), LeaseHeldError)
})

test('renewal rewrites the lease; one noticing a takeover stops and calls onLost; S3 failures do not lose it', async () => {
  const store = new MemoryObjectStore()
  const clock: Clock = { nowMs: 1_000_000, onSleep: null }
  const lost: LeaseRecord[] = []
  const lease = await acquireLease(store, kPrefix, { instance: kOurs, leaseMs: kLeaseMs, onLost: (holder) => lost.push(holder), ...clockOptions(clock) })
  clock.nowMs += 5000
  await lease.renewNow()
  assert.equal((await readLease(store, kPrefix))?.renewedMs, clock.nowMs)
  store.down = true
  await lease.renewNow()
  assert.equal(lease.lost, false)
  store.down = false
  const before = counterValue('s3-lease-lost')
  writeLease(store, theirs(clock.nowMs))
  await lease.renewNow()
  assert.equal(lease.lost, true)
  assert.equal(lost.length, 1)
  assert.equal(lost[0].instance, kTheirs)
  assert.equal(counterValue('s3-lease-lost'), before + 1)
  await lease.renewNow()
  assert.equal((await readLease(store, kPrefix))?.instance, kTheirs, 'a lost lease is never written again')
  await lease.release()
  assert.equal((await readLease(store, kPrefix))?.instance, kTheirs)
})

test('the renewal timer renews by itself; release() marks the lease released and stops it', async () => {
  const store = new MemoryObjectStore()
  const lease = await acquireLease(store, kPrefix, { instance: kOurs, leaseMs: 60, sleep: async () => {} })
  const puts = store.requests.put
  lease.start()
  const deadline = Date.now() + 5000
  while (store.requests.put < puts + 2 && Date.now() < deadline) await new Promise(resolve => setImmediate(resolve))
  assert.ok(store.requests.put >= puts + 2, 'renewed at least twice')
  await lease.release()
  assert.equal((await readLease(store, kPrefix))?.released, true)
  const after = store.requests.put
  await lease.renewNow()
  assert.equal(store.requests.put, after, 'no renewal after release')
  assert.equal((await readLease(store, kPrefix))?.released, true)
})

test('loadOrCreateInstanceId keeps one id per data directory', (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-lease-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const id = loadOrCreateInstanceId(dataDir)
  assert.match(id, /^[0-9a-f]{16}$/)
  assert.equal(loadOrCreateInstanceId(dataDir), id)
  assert.equal(readFileSync(join(dataDir, 'meta', 's3-instance'), 'latin1'), `${id}\n`)
  writeFileSync(join(dataDir, 'meta', 's3-instance'), 'garbage')
  assert.notEqual(loadOrCreateInstanceId(dataDir), id)
  assert.match(newInstanceId(), /^[0-9a-f]{16}$/)
})
