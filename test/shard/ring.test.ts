import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Worker } from 'node:worker_threads'
import { createRingBuffer, RingReader, RingWriter, Doorbells } from '../../src/shard/ring.ts'

function message (index: number, size: number): Buffer {
  const buf = Buffer.alloc(size)
  buf.writeUInt32LE(index, 0)
  for (let i = 4; i < size; i++) buf[i] = (index + i) & 0xff
  return buf
}

test('delivers messages in order, wrapping around the end of the ring', () => {
  const sab = createRingBuffer(4096)
  const writer = new RingWriter(sab)
  const reader = new RingReader(sab)
  let received = 0
  for (let i = 0; i < 1000; i++) {
    writer.send(message(i, 4 + (i * 37) % 300))
    const got = reader.receive()
    assert.ok(got)
    assert.deepEqual(got, message(i, 4 + (i * 37) % 300))
    received++
  }
  assert.equal(received, 1000)
  assert.equal(reader.receive(), null)
})

test('queues behind a full ring and resumes once the reader frees space', () => {
  const sab = createRingBuffer(4096)
  const writer = new RingWriter(sab)
  const reader = new RingReader(sab)
  for (let i = 0; i < 100; i++) writer.send(message(i, 200))
  assert.equal(writer.blocked, true)
  const out: Buffer[] = []
  while (out.length < 100) {
    const got = reader.receive()
    if (got === null) {
      assert.equal(reader.takeSenderWaiting(), true)
      writer.flush()
      continue
    }
    out.push(got)
  }
  out.forEach((got, i) => assert.deepEqual(got, message(i, 200)))
  assert.equal(writer.blocked, false)
})

test('fragments a message larger than the ring', () => {
  const sab = createRingBuffer(4096)
  const writer = new RingWriter(sab)
  const reader = new RingReader(sab)
  const big = message(7, 50_000)
  writer.send(big)
  let got: Buffer | null = null
  while (got === null) {
    got = reader.receive()
    writer.flush()
  }
  assert.deepEqual(got, big)
})

test('receiveView returns whole messages as views of the ring, handing their space back only on the next call', () => {
  const sab = createRingBuffer(4096)
  const writer = new RingWriter(sab)
  const reader = new RingReader(sab)
  // Fill the ring with 200-byte messages, then read one as a view: the writer still cannot use its space.
  for (let i = 0; i < 100; i++) writer.send(message(i, 200))
  assert.equal(writer.blocked, true)
  let next = 0
  const first = reader.receiveView()!
  assert.deepEqual(first, message(next++, 200))
  assert.ok(first.buffer instanceof SharedArrayBuffer, 'a view of the ring, not a copy')
  writer.flush()
  assert.deepEqual(first, message(0, 200), 'the view is intact while the caller holds it')
  // Drain the rest the way the shard does: each call releases the previous view.
  while (next < 100) {
    const got = reader.receiveView()
    if (got === null) {
      writer.flush()
      continue
    }
    assert.deepEqual(got, message(next++, 200))
  }
  assert.equal(writer.blocked, false)
  assert.equal(reader.receiveView(), null)
  // A message in several fragments comes back assembled, as a copy.
  const big = message(9, 10_000)
  writer.send(big)
  let assembled: Buffer | null = null
  while (assembled === null) {
    assembled = reader.receiveView()
    writer.flush()
  }
  assert.deepEqual(assembled, big)
  assert.ok(!(assembled.buffer instanceof SharedArrayBuffer))
})

test('carries messages between two threads with doorbell wake-ups', async () => {
  const ring = createRingBuffer(1 << 16)
  const back = createRingBuffer(1 << 16)
  const bells = Doorbells.create(2)
  const worker = new Worker(new URL('./fixtures/ring-echo.ts', import.meta.url), { workerData: { ring, back, bells } })
  const writer = new RingWriter(ring)
  const reader = new RingReader(back)
  const doorbells = new Doorbells(bells)
  const count = 5000
  for (let i = 0; i < count; i++) {
    writer.send(message(i, 16 + (i % 500)))
    doorbells.ring(1)
  }
  let received = 0
  const deadline = Date.now() + 20_000
  while (received < count && Date.now() < deadline) {
    const seen = doorbells.load(0)
    let got
    while ((got = reader.receive()) !== null) {
      assert.deepEqual(got, message(received, 16 + (received % 500)))
      received++
    }
    if (reader.takeSenderWaiting()) doorbells.ring(1)
    if (writer.flush()) doorbells.ring(1)
    if (received < count) await doorbells.wait(0, seen)
  }
  assert.equal(received, count)
  await worker.terminate()
})

test('sends a vector of chunks as one message, fragments crossing chunk boundaries', () => {
  const sab = createRingBuffer(4096)
  const writer = new RingWriter(sab)
  const reader = new RingReader(sab)
  const chunks = [Buffer.from('head'), Buffer.alloc(0), message(1, 3000), message(2, 7), message(3, 9000)]
  const expected = Buffer.concat(chunks)
  for (let round = 0; round < 3; round++) {
    writer.send(chunks)
    let got: Buffer | null = null
    while (got === null) {
      got = reader.receive()
      writer.flush()
    }
    assert.deepEqual(got, expected)
  }
})
