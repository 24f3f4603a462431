// The APIs this broker serves. ApiVersions advertises exactly these, with these version ranges.
import type { Handler } from './handler.ts'
import type { RemoteServer } from '../shard/shard.ts'
import { apiVersionsHandler } from './api-versions.ts'
import { metadataHandler } from './metadata.ts'
import { produceHandler, produceServer } from './produce.ts'
import { fetchHandler, fetchServer } from './fetch.ts'
import { listOffsetsHandler, listOffsetsServer } from './list-offsets.ts'
import { createTopicsHandler } from './create-topics.ts'
import { deleteTopicsHandler } from './delete-topics.ts'
import { createPartitionsHandler } from './create-partitions.ts'
import { describeClusterHandler } from './describe-cluster.ts'
import { initProducerIdHandler } from './init-producer-id.ts'

export function buildHandlers (): { handlers: Map<number, Handler>, remoteServers: Map<number, RemoteServer> } {
  const handlers = new Map<number, Handler>()
  for (const handler of [
    apiVersionsHandler, metadataHandler, produceHandler, fetchHandler, listOffsetsHandler,
    createTopicsHandler, deleteTopicsHandler, createPartitionsHandler, describeClusterHandler, initProducerIdHandler
  ]) {
    handlers.set(handler.api.key, handler)
  }
  // Owner-side servers of request parts sent over the rings, by op (= API key).
  const remoteServers = new Map<number, RemoteServer>([
    [produceHandler.api.key, produceServer],
    [fetchHandler.api.key, fetchServer],
    [listOffsetsHandler.api.key, listOffsetsServer]
  ])
  return { handlers, remoteServers }
}
