// The authorizer: Kafka's StandardAuthorizer rules over the ACLs of one metadata version.
//
// A request by principal P from host H to perform operation O on resource R (type, name) is decided as:
//   1. P is one of super.users: allowed.
//   2. The ACLs that apply to R: LITERAL ones of R's name or `*`, PREFIXED ones whose name R's name starts with.
//      None at all (whoever they name): allowed only with allow.everyone.if.no.acl.found.
//   3. Of those, the ones naming P (or `User:*`) and H (or `*`): a DENY of O (or ALL) denies, whatever else.
//   4. An ALLOW of O (or ALL) allows; ALLOW of READ, WRITE, DELETE or ALTER also allows DESCRIBE, and ALLOW of
//      ALTER_CONFIGS allows DESCRIBE_CONFIGS (Kafka's implied operations; a DENY implies nothing).
//   5. Otherwise denied.
//
// Cost: one Authorizer is built per metadata version (src/shard/shard-table.ts), its index by resource type and
// literal name plus a list of the prefixed ACLs of each type. Decisions are cached per subject (a connection) in a
// WeakMap, two bits per operation per resource, so a steady producer pays a Map lookup per topic; a new metadata
// version (an ACL change among them) builds a new Authorizer and so starts with empty caches.
//
// No imports from shard/, net/, handlers/ or admin/.
import { AclOperation, AclPermissionType, PatternType, ResourceType, kWildcard, kWildcardPrincipal, type AclBinding } from './acl.ts'
import { principalString, type KafkaPrincipal } from './principal.ts'
import { count } from '../counters.ts'

export interface AuthorizerSettings {
  /** Kafka's super.users, as `User:name` strings. */
  readonly superUsers: readonly string[]
  /** Kafka's allow.everyone.if.no.acl.found. */
  readonly allowEveryoneIfNoAclFound: boolean
}

/** What a decision is about on the caller's side: a connection (its principal may change when SASL completes). */
export interface AuthorizationSubject {
  readonly principal: KafkaPrincipal
  readonly remoteIp: string | undefined
}

/** Per resource type: ACLs by literal name (`*` among them), and the prefixed ones. */
interface TypeIndex {
  readonly literal: Map<string, AclBinding[]>
  readonly prefixed: AclBinding[]
  /** Any ACL at all of this type (authorizeByResourceType's "no ACL found"). */
  count: number
}

/** Most resources a session caches decisions for, per resource type, before it starts over. */
const kSessionCacheLimit = 4096
const kResourceTypes = 8

class Session {
  readonly principal: KafkaPrincipal
  readonly principalText: string
  readonly host: string
  /** decisions[resourceType]: resource name -> bit (1 << op) decided, bit (1 << (op + 16)) allowed. */
  readonly decisions: Array<Map<string, number>>

  constructor (principal: KafkaPrincipal, host: string) {
    this.principal = principal
    this.principalText = principalString(principal)
    this.host = host
    this.decisions = []
    for (let type = 0; type < kResourceTypes; type++) this.decisions.push(new Map())
  }
}

/** The host as ACLs name it: an IPv4 client seen through a dual-stack socket (`::ffff:10.0.0.1`) is `10.0.0.1`. */
export function aclHost (remoteIp: string | undefined): string {
  if (remoteIp === undefined) return ''
  return remoteIp.startsWith('::ffff:') && remoteIp.includes('.') ? remoteIp.slice(7) : remoteIp
}

function allowImplies (granted: number, asked: number): boolean {
  if (granted === asked || granted === AclOperation.ALL) return true
  if (asked === AclOperation.DESCRIBE) {
    return granted === AclOperation.READ || granted === AclOperation.WRITE || granted === AclOperation.DELETE || granted === AclOperation.ALTER
  }
  return asked === AclOperation.DESCRIBE_CONFIGS && granted === AclOperation.ALTER_CONFIGS
}

export class Authorizer {
  readonly #superUsers: ReadonlySet<string>
  readonly #allowIfNoAcl: boolean
  readonly #byType: TypeIndex[]
  readonly #sessions: WeakMap<AuthorizationSubject, Session>

  constructor (settings: AuthorizerSettings, acls: readonly AclBinding[]) {
    this.#superUsers = new Set(settings.superUsers)
    this.#allowIfNoAcl = settings.allowEveryoneIfNoAclFound
    this.#byType = []
    for (let type = 0; type < kResourceTypes; type++) this.#byType.push({ literal: new Map(), prefixed: [], count: 0 })
    for (const acl of acls) {
      const index = this.#byType[acl.resourceType]
      if (index === undefined) continue
      index.count++
      if (acl.patternType === PatternType.PREFIXED) {
        index.prefixed.push(acl)
      } else {
        const list = index.literal.get(acl.resourceName)
        if (list === undefined) index.literal.set(acl.resourceName, [acl])
        else list.push(acl)
      }
    }
    this.#sessions = new WeakMap()
  }

  /** Whether `subject` may perform `operation` on the resource; cached until the next metadata version. */
  allows (subject: AuthorizationSubject, operation: number, resourceType: number, resourceName: string): boolean {
    const session = this.#session(subject)
    const decisions = session.decisions[resourceType]
    if (decisions === undefined) return false
    const bits = decisions.get(resourceName) ?? 0
    const decided = 1 << operation
    if ((bits & decided) !== 0) return (bits & (decided << 16)) !== 0
    const allowed = this.decide(session.principalText, session.host, operation, resourceType, resourceName)
    if (decisions.size >= kSessionCacheLimit) decisions.clear()
    decisions.set(resourceName, bits | decided | (allowed ? decided << 16 : 0))
    // Counted once per connection, resource and operation (later refusals come from the cache).
    if (!allowed) count('authorization-denied')
    return allowed
  }

  /** Bit set (1 << op) of the operations of `candidates` the subject may perform on the resource. */
  allowedOperations (subject: AuthorizationSubject, resourceType: number, resourceName: string, candidates: readonly number[]): number {
    let mask = 0
    for (const operation of candidates) if (this.allows(subject, operation, resourceType, resourceName)) mask |= 1 << operation
    return mask
  }

  #session (subject: AuthorizationSubject): Session {
    let session = this.#sessions.get(subject)
    const host = subject.remoteIp
    if (session === undefined || session.principal !== subject.principal || (session.host !== host && session.host !== aclHost(host))) {
      session = new Session(subject.principal, aclHost(host))
      this.#sessions.set(subject, session)
    }
    return session
  }

  /** The uncached decision (the rules in the header). `principal` is `Type:name`, `host` an IP address. */
  decide (principal: string, host: string, operation: number, resourceType: number, resourceName: string): boolean {
    if (this.#superUsers.has(principal)) return true
    const index = this.#byType[resourceType]
    if (index === undefined) return false
    let found = false
    let allowed = false
    const visit = (acls: readonly AclBinding[] | undefined): boolean => {
      if (acls === undefined) return true
      for (const acl of acls) {
        found = true
        if (acl.principal !== principal && acl.principal !== kWildcardPrincipal) continue
        if (acl.host !== host && acl.host !== kWildcard) continue
        if (acl.permissionType === AclPermissionType.DENY) {
          if (acl.operation === operation || acl.operation === AclOperation.ALL) return false
        } else if (allowImplies(acl.operation, operation)) {
          allowed = true
        }
      }
      return true
    }
    if (!visit(index.literal.get(resourceName))) return false
    if (resourceName !== kWildcard && !visit(index.literal.get(kWildcard))) return false
    for (const acl of index.prefixed) {
      if (resourceName.startsWith(acl.resourceName) && !visit([acl])) return false
    }
    if (!found) return this.#allowIfNoAcl
    return allowed
  }

  /**
   * Kafka's authorizeByResourceType (KIP-679): whether the subject may perform `operation` on at least one
   * resource of the type: an ALLOW (of the operation or ALL) not covered by a DENY of the same principal and host
   * (a DENY of `*`, of the same literal name, or of a prefix of the allowed name). With no ACL of the type at all,
   * allow.everyone.if.no.acl.found decides.
   */
  allowsAnyOfType (subject: AuthorizationSubject, operation: number, resourceType: number): boolean {
    const session = this.#session(subject)
    if (this.#superUsers.has(session.principalText)) return true
    const index = this.#byType[resourceType]
    if (index === undefined) return false
    if (index.count === 0) return this.#allowIfNoAcl
    const applies = (acl: AclBinding): boolean =>
      (acl.principal === session.principalText || acl.principal === kWildcardPrincipal) && (acl.host === session.host || acl.host === kWildcard) &&
      (acl.operation === operation || acl.operation === AclOperation.ALL)
    const all: AclBinding[] = [...index.prefixed]
    for (const list of index.literal.values()) all.push(...list)
    const denies = all.filter((acl) => acl.permissionType === AclPermissionType.DENY && applies(acl))
    for (const acl of all) {
      if (acl.permissionType !== AclPermissionType.ALLOW || !applies(acl)) continue
      const covered = denies.some((deny) => deny.patternType === PatternType.LITERAL
        ? deny.resourceName === kWildcard || (acl.patternType === PatternType.LITERAL && deny.resourceName === acl.resourceName)
        : acl.resourceName.startsWith(deny.resourceName))
      if (!covered) return true
    }
    return false
  }
}

/** The resource types the authorizer knows, for callers that build masks. */
export const kAuthorizedResourceTypes = [ResourceType.TOPIC, ResourceType.GROUP, ResourceType.CLUSTER, ResourceType.TRANSACTIONAL_ID, ResourceType.DELEGATION_TOKEN, ResourceType.USER] as const
