import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { crc32c } from '../../src/protocol/crc32c.ts'
import { kAttributesOffset, kCrcOffset, kPartitionLeaderEpochOffset } from '../../src/protocol/record-batch-layout.ts'
import { PartitionLog } from '../../src/log/partition-log.ts'
import {
  currentLeaderEpochError, kLeaderEpochCheckpointFile, kPartitionLeaderEpoch, LeaderEpochCache, type EpochEndOffset
} from '../../src/log/leader-epochs.ts'
import { buildBatch, decodeBatches, standardValues, temporaryDirectory } from './helpers.ts'

function endOffset (cache: LeaderEpochCache, epoch: number, logEndOffset: number): [number, number] {
  const into: EpochEndOffset = { epoch: 0, endOffset: 0 }
  cache.endOffsetFor(epoch, logEndOffset, into)
  return [into.epoch, into.endOffset]
}

test('append stamps every batch with the partition leader epoch, keeps its CRC valid and checkpoints the epoch start once', t => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory)
  t.after(() => log.close())
  assert.equal(log.leaderEpochs.latestEpoch, -1, 'an empty log has no epoch recorded')
  for (let index = 0; index < 3; index++) log.append(buildBatch({ values: standardValues(index) }), -1)
  const batches = log.read(0, 1 << 20, true).records!
  for (let position = 0, count = 0; position < batches.length; count++) {
    const size = 12 + batches.readInt32BE(position + 8)
    const batch = batches.subarray(position, position + size)
    assert.equal(batch.readInt32BE(kPartitionLeaderEpochOffset), kPartitionLeaderEpoch, `batch ${count}`)
    assert.equal(batch.readUInt32BE(kCrcOffset), crc32c(batch.subarray(kAttributesOffset)), 'the epoch is outside the CRC')
    position += size
  }
  assert.equal(decodeBatches(batches).length, 3)
  assert.equal(readFileSync(join(directory, kLeaderEpochCheckpointFile), 'latin1'), '0\n1\n0 0\n')
  assert.deepEqual(log.leaderEpochs.entries, [{ epoch: 0, startOffset: 0 }])
})

test('the checkpoint survives a restart, follows DeleteRecords, and is rebuilt when lost', t => {
  const directory = temporaryDirectory(t)
  let log = PartitionLog.open(directory, { segmentBytes: 1024, indexIntervalBytes: 128 })
  for (let index = 0; index < 20; index++) log.append(buildBatch({ values: standardValues(index) }), -1)
  log.close()
  log = PartitionLog.open(directory, { segmentBytes: 1024, indexIntervalBytes: 128 })
  assert.deepEqual(log.leaderEpochs.entries, [{ epoch: 0, startOffset: 0 }])
  log.deleteRecordsBefore(30)
  assert.deepEqual(log.leaderEpochs.entries, [{ epoch: 0, startOffset: 30 }])
  assert.equal(readFileSync(join(directory, kLeaderEpochCheckpointFile), 'latin1'), '0\n1\n0 30\n')
  log.close()
  unlinkSync(join(directory, kLeaderEpochCheckpointFile))
  log = PartitionLog.open(directory, { segmentBytes: 1024, indexIntervalBytes: 128 })
  t.after(() => log.close())
  assert.deepEqual(log.leaderEpochs.entries, [{ epoch: 0, startOffset: 30 }], 'every batch Shoal wrote carries epoch 0')
  assert.equal(readFileSync(join(directory, kLeaderEpochCheckpointFile), 'latin1'), '0\n1\n0 30\n')
})

test('load drops entries past the log end and below the log start, and ignores a malformed file', t => {
  const directory = temporaryDirectory(t)
  const path = join(directory, kLeaderEpochCheckpointFile)
  writeFileSync(path, '0\n4\n0 0\n2 10\n5 40\n7 90\n')
  const cache = LeaderEpochCache.load(directory, 15, 60, 7)
  assert.deepEqual(cache.entries, [{ epoch: 2, startOffset: 15 }, { epoch: 5, startOffset: 40 }])
  assert.equal(readFileSync(path, 'latin1'), '0\n2\n2 15\n5 40\n')
  writeFileSync(path, '0\n2\n3 10\n1 20\n')
  assert.deepEqual(LeaderEpochCache.load(directory, 0, 50).entries, [{ epoch: 0, startOffset: 0 }], 'epochs must increase')
  writeFileSync(path, 'garbage')
  assert.deepEqual(LeaderEpochCache.load(directory, 0, 0).entries, [], 'an empty log records nothing')
})

test('endOffsetFor answers as Kafka\'s LeaderEpochFileCache: next epoch\'s start, log end for the latest, -1 otherwise', t => {
  const directory = temporaryDirectory(t)
  writeFileSync(join(directory, kLeaderEpochCheckpointFile), '0\n3\n1 5\n3 20\n4 35\n')
  const cache = LeaderEpochCache.load(directory, 5, 50, 4)
  assert.deepEqual(endOffset(cache, 4, 50), [4, 50], 'the current epoch ends at the log end')
  assert.deepEqual(endOffset(cache, 3, 50), [3, 35])
  assert.deepEqual(endOffset(cache, 2, 50), [1, 20], 'an epoch without batches answers its predecessor and the next start')
  assert.deepEqual(endOffset(cache, 1, 50), [1, 20])
  assert.deepEqual(endOffset(cache, 0, 50), [0, 5], 'below the earliest: the earliest epoch\'s start')
  assert.deepEqual(endOffset(cache, -1, 50), [-1, -1], 'UNDEFINED_EPOCH')
  assert.deepEqual(endOffset(cache, 5, 50), [-1, -1], 'newer than the leader')
  const empty = LeaderEpochCache.load(temporaryDirectory(t), 0, 0)
  assert.deepEqual(endOffset(empty, 0, 0), [0, 0], 'the leader\'s epoch starts at the log end before its first batch')
  assert.deepEqual(endOffset(empty, 1, 0), [-1, -1])
})

test('currentLeaderEpochError: -1 skips the check, older is fenced, newer is unknown', () => {
  assert.equal(currentLeaderEpochError(-1), ErrorCode.NONE)
  assert.equal(currentLeaderEpochError(0), ErrorCode.NONE)
  assert.equal(currentLeaderEpochError(1), ErrorCode.UNKNOWN_LEADER_EPOCH)
  assert.equal(currentLeaderEpochError(2, 5), ErrorCode.FENCED_LEADER_EPOCH)
})
