// A GroupCoordinator over real `__consumer_offsets` partition logs in a directory, without a broker: the unit
// tests of the coordinator's durable side build one, write through it, and build another on the same directory to
// see what a restart replays.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GroupCoordinator } from '../../src/group/coordinator.ts'
import { kOffsetsTopic } from '../../src/group/offset-store.ts'
import { PartitionLog } from '../../src/log/partition-log.ts'
import { LocalPartition, type Shard } from '../../src/shard/shard.ts'
import { ShardTable } from '../../src/shard/shard-table.ts'
import { parseConfig } from '../../src/config/config.ts'
import { Logger } from '../../src/logger.ts'

/** Partitions of the offsets topic in the harness. */
export const kHarnessOffsetsPartitions = 4

export interface CoordinatorHarness {
  readonly coordinator: GroupCoordinator
  readonly partitions: LocalPartition[]
  close (): void
}

/** Topics: the offsets topic, `orders` (3 partitions) and `wide` (5000). `args` are broker flags. */
export function coordinatorHarness (dir: string, args: string[] = []): CoordinatorHarness {
  const table = new ShardTable({
    version: 1,
    clusterId: 'c',
    topics: [
      { name: kOffsetsTopic, id: 'a'.repeat(32), partitions: kHarnessOffsetsPartitions, configs: {}, internal: true },
      { name: 'orders', id: 'b'.repeat(32), partitions: 3, configs: {} },
      { name: 'wide', id: 'c'.repeat(32), partitions: 5000, configs: {} }
    ]
  }, 1)
  const config = parseConfig(['--workers', '1', ...args], {})
  const shard = { index: 0, table, config, logger: new Logger('error') } as unknown as Shard
  const coordinator = new GroupCoordinator(shard)
  const topic = table.topic(kOffsetsTopic)!
  const partitions: LocalPartition[] = []
  for (let p = 0; p < kHarnessOffsetsPartitions; p++) {
    const local = new LocalPartition(topic, p, PartitionLog.open(join(dir, `${kOffsetsTopic}-${p}`), { segmentBytes: 256 * 1024 }))
    partitions.push(local)
    coordinator.loadPartition(local)
  }
  return {
    coordinator,
    partitions,
    close () {
      coordinator.shutdown()
      for (const local of partitions) local.log.close()
    }
  }
}

/** A test body run with a fresh temporary directory, removed afterwards. */
export function withDir (prefix: string, run: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), prefix))
    try { await run(dir) } finally { rmSync(dir, { recursive: true, force: true }) }
  }
}
