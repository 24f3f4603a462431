// librdkafka (2.0.2, Debian's) compresses with lz4 only when the broker's ApiVersions lists Produce v0; Kafka 4
// lists it and refuses v0-2 when they are sent (KAFKA-18659). A batch produced with `kcat -z lz4` must reach
// the log lz4-compressed, not silently uncompressed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openSync, readSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { startBroker } from '../helpers/broker.ts'
import { run } from '../interop/processes.ts'
import { Compression, kAttributesOffset, kCompressionMask } from '../../src/protocol/record-batch-layout.ts'

test('kcat -z lz4 batches are stored lz4-compressed', async (t) => {
  const broker = await startBroker({ workers: 2 })
  t.after(() => broker.stop())
  const lines = Array.from({ length: 200 }, (_, i) => `value-${i}-${'x'.repeat(50)}`).join('\n') + '\n'
  await run('kcat', ['-P', '-b', broker.bootstrap, '-t', 'lz4-topic', '-p', '0', '-z', 'lz4', '-X', 'linger.ms=50'], { input: lines })
  const fd = openSync(join(broker.dataDir, 'lz4-topic-0', '00000000000000000000.log'), 'r')
  const header = Buffer.alloc(61)
  try { readSync(fd, header, 0, 61, 0) } finally { closeSync(fd) }
  assert.equal(header.readInt16BE(kAttributesOffset) & kCompressionMask, Compression.lz4)
  const consumed = await run('kcat', ['-C', '-b', broker.bootstrap, '-t', 'lz4-topic', '-p', '0', '-o', 'beginning', '-e', '-q'])
  assert.equal(consumed.stdout, lines)
})
