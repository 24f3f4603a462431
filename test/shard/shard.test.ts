// Calls between two Shards over real rings, both in this thread: a server that throws is answered with an
// error (and the ring loop goes on), a call to a worker that goes down fails at once, and after the rings are
// reset and the peer is up again, calls work again.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MessageChannel } from 'node:worker_threads'
import { parseConfig } from '../../src/config/config.ts'
import { Logger } from '../../src/logger.ts'
import { createRingBuffer, Doorbells, resetRingBuffer, RingReader, RingWriter } from '../../src/shard/ring.ts'
import { CallFailedError, kCallFailed, kCallPeerDown, Shard, type RemoteServer } from '../../src/shard/shard.ts'
import { dispatchParts } from '../../src/handlers/partitioned.ts'
import { apiByKey } from '../../src/protocol/apis.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { counterValue } from '../../src/counters.ts'

const kEcho = 90
const kThrow = 91
const kNever = 92

function pair (t: { after (fn: () => unknown): void }, servers: Map<number, RemoteServer>) {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-shard-'))
  const config = parseConfig(['--data-dir', dataDir, '--workers', '2', '--log-level', 'error'])
  const rings = [[null, createRingBuffer(4096)], [createRingBuffer(4096), null]]
  const doorbells = Doorbells.create(2)
  const channel = new MessageChannel()
  // Atomics.waitAsync alone does not keep the event loop alive; a listening port does (as in the workers).
  channel.port2.on('message', () => {})
  const shards = [0, 1].map((index) => new Shard({
    index,
    config,
    logger: new Logger('error', `test-${index}`),
    port: channel.port1,
    outgoing: rings[index],
    incoming: rings.map((row) => row[index]),
    doorbells,
    metadata: { version: 1, clusterId: 'c', topics: [] },
    advertised: { host: '127.0.0.1', port: 9092 },
    handlers: new Map(),
    remoteServers: servers
  }))
  const loops = shards.map((shard) => shard.runRingLoop())
  t.after(async () => {
    for (const shard of shards) shard.stop()
    await Promise.all(loops)
    channel.port1.close()
    channel.port2.close()
    rmSync(dataDir, { recursive: true, force: true })
  })
  return { shards, rings }
}

const servers = new Map<number, RemoteServer>([
  [kEcho, (shard, source, token, apiVersion, payload) => shard.reply(source, token, apiVersion, Buffer.from(payload))],
  [kThrow, () => { throw new Error('a bug in a server') }],
  [kNever, () => {}]
])

test('a server that throws is answered with UNKNOWN_SERVER_ERROR, counted, and the ring loop goes on', async (t) => {
  const { shards: [a] } = pair(t, servers)
  const before = counterValue('request-handler-errors')
  await assert.rejects(a.call(1, kThrow, 3, Buffer.from('x')).reply, (error: unknown) => {
    assert.ok(error instanceof CallFailedError)
    assert.equal(error.reason, kCallFailed)
    assert.equal(error.code, ErrorCode.UNKNOWN_SERVER_ERROR)
    return true
  })
  assert.equal(counterValue('request-handler-errors'), before + 1)
  assert.deepEqual(await a.call(1, kEcho, 3, Buffer.from('still here')).reply, Buffer.from('still here'))
})

test('an op without a server is answered with an error instead of never', async (t) => {
  const { shards: [a] } = pair(t, servers)
  await assert.rejects(a.call(1, 4242, 0, Buffer.alloc(0)).reply, CallFailedError)
})

test('calls to a worker that goes down fail, at once while it is down, and work again once it is up', async (t) => {
  const { shards: [a, b], rings } = pair(t, servers)
  const waiting = a.call(1, kNever, 0, Buffer.from('lost')).reply
  // The call reached the other side before it went down.
  await new Promise((resolve) => setImmediate(resolve))
  a.peerDown(1)
  await assert.rejects(waiting, (error: unknown) => error instanceof CallFailedError && error.reason === kCallPeerDown)
  await assert.rejects(a.call(1, kEcho, 0, Buffer.from('x')).reply, (error: unknown) => error instanceof CallFailedError && error.reason === kCallPeerDown)
  // Replies and wakes to a peer that is down are dropped, not thrown.
  a.reply(1, 12345, 0, Buffer.from('dropped'))
  a.wakeFetch(1, 12345)
  // What the main thread does once the survivors acknowledged: reset both rings; the peer's own ends are new
  // (a restarted worker); here the same Shard stands for it, so it forgets its ends of the rings too.
  b.peerDown(0)
  resetRingBuffer(rings[0][1] as SharedArrayBuffer)
  resetRingBuffer(rings[1][0] as SharedArrayBuffer)
  a.peerUp(1)
  b.peerUp(0)
  assert.deepEqual(await a.call(1, kEcho, 0, Buffer.from('back')).reply, Buffer.from('back'))
  assert.deepEqual(await b.call(0, kEcho, 0, Buffer.from('both ways')).reply, Buffer.from('both ways'))
})

test('a part whose owner is down is answered as that part with NOT_LEADER_OR_FOLLOWER in each partition', async (t) => {
  const { shards: [a] } = pair(t, servers)
  a.peerDown(1)
  const api = apiByKey(0)!
  const part = {
    transactionalId: null, acks: -1, timeoutMs: 1000,
    topicData: [{ name: 't', topicId: '0'.repeat(32), partitionData: [{ index: 1, records: null }, { index: 3, records: null }] }]
  }
  const [call] = dispatchParts(a, api, 9, new Map([[1, part]]), async () => { throw new Error('not local') }, null)
  const response = await call.response as any
  assert.deepEqual(response.responses.map((t: any) => [t.name, t.partitionResponses.map((p: any) => [p.index, p.errorCode])]),
    [['t', [[1, ErrorCode.NOT_LEADER_OR_FOLLOWER], [3, ErrorCode.NOT_LEADER_OR_FOLLOWER]]]])
})

test('resetting a ring drops what was in it; writer and reader start over', () => {
  const sab = createRingBuffer(4096)
  const writer = new RingWriter(sab)
  const reader = new RingReader(sab)
  for (let i = 0; i < 10; i++) writer.send(Buffer.alloc(1000, i))
  assert.ok(writer.blocked)
  writer.reset()
  reader.reset()
  resetRingBuffer(sab)
  assert.equal(writer.blocked, false)
  assert.equal(reader.receive(), null)
  writer.send(Buffer.from('fresh'))
  assert.deepEqual(reader.receive(), Buffer.from('fresh'))
  assert.equal(reader.takeSenderWaiting(), false)
})
