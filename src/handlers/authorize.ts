// The one authorization check handlers make: `allows(context, operation, resourceType, name)`. Without
// --authorizer it is a single config read and answers true; with it, the current metadata version's Authorizer
// (src/auth/authorizer.ts; ACLs from the shard table) decides for the connection's principal and IP, cached per
// connection. What each API checks is Kafka's authorization table (KafkaApis); see the handlers.
import type { RequestContext } from '../net/connection.ts'
import { KafkaError, errorName } from '../protocol/errors.ts'
import type { Authorizer } from '../auth/authorizer.ts'
import { ResourceType, allOperationsMask, supportedOperations } from '../auth/acl.ts'

/** The authorizer when --authorizer is on, else null (every check passes). */
export function authorizerOf (context: RequestContext): Authorizer | null {
  const shard = context.shard
  return shard.config.authorizer ? shard.table.authorizer(shard.config) : null
}

export function allows (context: RequestContext, operation: number, resourceType: number, resourceName: string): boolean {
  const shard = context.shard
  if (!shard.config.authorizer) return true
  return shard.table.authorizer(shard.config).allows(context.connection, operation, resourceType, resourceName)
}

/** A request's topics split by whether the connection may perform an operation on them. */
export interface AuthorizedSplit<T> {
  readonly allowed: T[]
  readonly denied: T[]
}

/**
 * Splits `topics` by `operation` on each topic named by `nameOf` (undefined: a topic id this broker does not know,
 * left to the handler's own unknown-topic answer). Null when every topic is allowed, always so without
 * --authorizer: the caller keeps its topics as they are and allocates nothing.
 */
export function splitByTopic<T> (context: RequestContext, topics: readonly T[], operation: number, nameOf: (topic: T) => string | undefined): AuthorizedSplit<T> | null {
  const shard = context.shard
  if (!shard.config.authorizer) return null
  const authorizer = shard.table.authorizer(shard.config)
  let denied: T[] | null = null
  for (const topic of topics) {
    const name = nameOf(topic)
    if (name !== undefined && !authorizer.allows(context.connection, operation, ResourceType.TOPIC, name)) (denied ??= []).push(topic)
  }
  if (denied === null) return null
  // A Set: a request naming thousands of denied topics must not cost their square.
  const refused = new Set(denied)
  return { allowed: topics.filter((topic) => !refused.has(topic)), denied }
}

/**
 * Kafka's authorizedOperations for the authorized-operations fields (Metadata, DescribeCluster, DescribeGroups,
 * ConsumerGroupDescribe): bit (1 << operation) for each operation Kafka lists for the resource type that the
 * connection may perform; without an authorizer every listed operation.
 */
export function authorizedOperations (context: RequestContext, resourceType: number, resourceName: string): number {
  const shard = context.shard
  if (!shard.config.authorizer) return allOperationsMask(resourceType)
  return shard.table.authorizer(shard.config).allowedOperations(context.connection, resourceType, resourceName, supportedOperations(resourceType))
}

/** Kafka's marker of authorized operations not asked for (`-2^31`). */
export const kOperationsNotRequested = -2147483648

/**
 * Fails the whole request with `errorCode` (Kafka's getErrorResponse: the code in every entry, derived from the
 * message definition by the connection, src/protocol/error-response.ts) unless the operation is allowed.
 */
export function requireAllowed (context: RequestContext, operation: number, resourceType: number, resourceName: string, errorCode: number): void {
  if (!allows(context, operation, resourceType, resourceName)) throw new KafkaError(errorCode, `${errorName(errorCode)}: not authorized`)
}
