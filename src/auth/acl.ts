// ACL bindings as Kafka defines them (KIP-11, KIP-290 prefixed patterns): a resource pattern (type, name,
// pattern type) and an entry (principal, host, operation, permission). The numeric codes are Kafka's wire codes
// (org.apache.kafka.common.resource.ResourceType, PatternType, acl.AclOperation, acl.AclPermissionType), which is
// also how bindings are stored in meta/cluster.json.
//
// Validation follows Kafka's controller (AclControlManager.validateNewAcl, the filters' isUnknown checks): a new
// binding must be concrete (no ANY, MATCH or UNKNOWN anywhere), name a resource, and for CLUSTER name
// `kafka-cluster`; a filter may use ANY/MATCH but nothing UNKNOWN. Both answer INVALID_REQUEST with a message.
//
// No imports from shard/, net/, handlers/ or admin/: this module is shared by the controller (main thread) and
// every worker.
import { clipName } from '../protocol/clip.ts'

export const ResourceType = {
  UNKNOWN: 0, ANY: 1, TOPIC: 2, GROUP: 3, CLUSTER: 4, TRANSACTIONAL_ID: 5, DELEGATION_TOKEN: 6, USER: 7
} as const

export const PatternType = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const

export const AclOperation = {
  UNKNOWN: 0, ANY: 1, ALL: 2, READ: 3, WRITE: 4, CREATE: 5, DELETE: 6, ALTER: 7, DESCRIBE: 8, CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10, ALTER_CONFIGS: 11, IDEMPOTENT_WRITE: 12, CREATE_TOKENS: 13, DESCRIBE_TOKENS: 14
} as const

export const AclPermissionType = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 } as const

/** The only name a CLUSTER resource has (Kafka's Resource.CLUSTER_NAME). */
export const kClusterName = 'kafka-cluster'
/** A LITERAL resource name, principal or host matching every one (Kafka's WILDCARD_RESOURCE, `User:*`, `*`). */
export const kWildcard = '*'
export const kWildcardPrincipal = 'User:*'

const kHighestResourceType = ResourceType.USER
const kHighestPatternType = PatternType.PREFIXED
const kHighestOperation = AclOperation.DESCRIBE_TOKENS
const kHighestPermission = AclPermissionType.ALLOW

/** One stored ACL: what CreateAcls creates and DescribeAcls lists. All fields are concrete codes. */
export interface AclBinding {
  readonly resourceType: number
  readonly resourceName: string
  /** LITERAL or PREFIXED. */
  readonly patternType: number
  /** `User:alice`, or `User:*` for every principal. */
  readonly principal: string
  /** An IP address, or `*` for every host. */
  readonly host: string
  readonly operation: number
  /** ALLOW or DENY. */
  readonly permissionType: number
}

/** DescribeAcls / DeleteAcls filter: nulls and ANY (and MATCH for the pattern type) match more. */
export interface AclBindingFilter {
  readonly resourceType: number
  readonly resourceName: string | null
  readonly patternType: number
  readonly principal: string | null
  readonly host: string | null
  readonly operation: number
  readonly permissionType: number
}

/** A code Kafka would not recognise reads as UNKNOWN (its fromCode). */
function known (code: number, highest: number): number {
  return Number.isInteger(code) && code >= 0 && code <= highest ? code : 0
}

/** `Type:name` with a non-empty type and name (SecurityUtils.parseKafkaPrincipal). */
export function isValidPrincipal (principal: string): boolean {
  const colon = principal.indexOf(':')
  return colon > 0 && colon < principal.length - 1
}

/** Why a binding to be created is invalid, or null (Kafka's AclControlManager.validateNewAcl). */
export function newBindingError (binding: AclBinding): string | null {
  const resourceType = known(binding.resourceType, kHighestResourceType)
  if (resourceType === ResourceType.UNKNOWN || resourceType === ResourceType.ANY) return `Invalid resourceType ${binding.resourceType}`
  const patternType = known(binding.patternType, kHighestPatternType)
  if (patternType !== PatternType.LITERAL && patternType !== PatternType.PREFIXED) return `Invalid patternType ${binding.patternType}`
  const operation = known(binding.operation, kHighestOperation)
  if (operation === AclOperation.UNKNOWN || operation === AclOperation.ANY) return `Invalid operation ${binding.operation}`
  const permission = known(binding.permissionType, kHighestPermission)
  if (permission !== AclPermissionType.ALLOW && permission !== AclPermissionType.DENY) return `Invalid permissionType ${binding.permissionType}`
  if (typeof binding.resourceName !== 'string' || binding.resourceName === '') return 'Resource name should not be empty'
  if (resourceType === ResourceType.CLUSTER && binding.resourceName !== kClusterName) return `The only valid name for the CLUSTER resource is ${kClusterName}`
  if (typeof binding.principal !== 'string' || !isValidPrincipal(binding.principal)) return `Could not parse principal from \`${clipName(String(binding.principal))}\` (no colon is present separating the principal type from name)`
  if (typeof binding.host !== 'string' || binding.host === '') return 'Invalid empty host'
  return null
}

/** Why a filter cannot be used, or null: any UNKNOWN element (Kafka's AclBindingFilter.isUnknown). */
export function filterError (filter: AclBindingFilter): string | null {
  if (known(filter.resourceType, kHighestResourceType) === ResourceType.UNKNOWN) return 'Unknown resourceType in the ACL filter'
  if (known(filter.patternType, kHighestPatternType) === PatternType.UNKNOWN) return 'Unknown patternType in the ACL filter'
  if (known(filter.operation, kHighestOperation) === AclOperation.UNKNOWN) return 'Unknown operation in the ACL filter'
  if (known(filter.permissionType, kHighestPermission) === AclPermissionType.UNKNOWN) return 'Unknown permissionType in the ACL filter'
  return null
}

/** Kafka's ResourcePatternFilter.matches and AccessControlEntryFilter.matches together. */
export function filterMatches (filter: AclBindingFilter, binding: AclBinding): boolean {
  if (filter.resourceType !== ResourceType.ANY && filter.resourceType !== binding.resourceType) return false
  const patternFilter = filter.patternType
  if (patternFilter !== PatternType.ANY && patternFilter !== PatternType.MATCH && patternFilter !== binding.patternType) return false
  if (filter.resourceName !== null) {
    if (patternFilter === PatternType.ANY || patternFilter === binding.patternType) {
      if (filter.resourceName !== binding.resourceName) return false
    } else if (binding.patternType === PatternType.LITERAL) {
      // MATCH: the bindings that would apply to the resource named, a wildcard one included.
      if (filter.resourceName !== binding.resourceName && binding.resourceName !== kWildcard) return false
    } else if (!filter.resourceName.startsWith(binding.resourceName)) {
      return false
    }
  }
  if (filter.principal !== null && filter.principal !== binding.principal) return false
  if (filter.host !== null && filter.host !== binding.host) return false
  if (filter.operation !== AclOperation.ANY && filter.operation !== binding.operation) return false
  if (filter.permissionType !== AclPermissionType.ANY && filter.permissionType !== binding.permissionType) return false
  return true
}

/** Whether two bindings are the same ACL (creating one twice stores it once, as Kafka does). */
export function sameBinding (a: AclBinding, b: AclBinding): boolean {
  return a.resourceType === b.resourceType && a.resourceName === b.resourceName && a.patternType === b.patternType &&
    a.principal === b.principal && a.host === b.host && a.operation === b.operation && a.permissionType === b.permissionType
}

/** A binding of exactly these fields (drops anything else a decoded request carried). */
export function toBinding (source: AclBinding): AclBinding {
  return {
    resourceType: source.resourceType,
    resourceName: source.resourceName,
    patternType: source.patternType,
    principal: source.principal,
    host: source.host,
    operation: source.operation,
    permissionType: source.permissionType
  }
}

/**
 * The operations Kafka lists as authorized operations of each resource type (AclEntry.supportedOperations),
 * as a bit set with bit (1 << operation code): what Metadata, DescribeCluster and DescribeGroups report.
 */
export function supportedOperations (resourceType: number): readonly number[] {
  switch (resourceType) {
    case ResourceType.TOPIC: return [AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DESCRIBE, AclOperation.DELETE, AclOperation.ALTER, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS]
    case ResourceType.GROUP: return [AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS]
    case ResourceType.CLUSTER: return [AclOperation.CREATE, AclOperation.CLUSTER_ACTION, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS, AclOperation.IDEMPOTENT_WRITE, AclOperation.ALTER, AclOperation.DESCRIBE]
    case ResourceType.TRANSACTIONAL_ID: return [AclOperation.DESCRIBE, AclOperation.WRITE]
    case ResourceType.DELEGATION_TOKEN: return [AclOperation.DESCRIBE]
    case ResourceType.USER: return [AclOperation.CREATE_TOKENS, AclOperation.DESCRIBE_TOKENS]
    default: return []
  }
}

/** Bit set of every supported operation of a resource type. */
export function allOperationsMask (resourceType: number): number {
  let mask = 0
  for (const operation of supportedOperations(resourceType)) mask |= 1 << operation
  return mask
}
