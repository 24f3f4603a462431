// Client quota configs (KIP-546's AlterClientQuotas / DescribeClientQuotas, KIP-13, KIP-124, KIP-599), as data:
// the persisted form, the checks and changes Alter makes, the filters Describe applies, and the resolution of
// the quota a (user, client-id) pair gets. Pure functions of their inputs; the controller persists the result
// with the cluster metadata (src/admin/controller.ts) and every worker resolves from its copy.
//
// An entity names up to one of each entity type: `user` (the principal's name, src/auth/principal.ts),
// `client-id` (the request header's) or `ip` (alone); a null name is that type's default entity (Kafka's
// `<default>`). The keys a user/client-id entity may hold: producer_byte_rate, consumer_byte_rate (bytes a
// second, whole numbers), request_percentage (percent of one worker's time a second), controller_mutation_rate
// (partitions created or deleted a second); an ip entity holds connection_creation_rate (a whole number).
import { clipName } from '../protocol/clip.ts'

/** One entity: absent = that type not part of it; null = the type's default entity. */
export interface QuotaEntity {
  readonly user?: string | null
  readonly clientId?: string | null
  readonly ip?: string | null
}

export interface ClientQuotaRecord {
  readonly entity: QuotaEntity
  /** Quota key -> value; never empty (an entity whose last value is removed is dropped). */
  readonly values: Readonly<Record<string, number>>
}

/** What ClusterMetadata carries (`clientQuotas`) and cluster.json persists. */
export type ClientQuotaConfigs = readonly ClientQuotaRecord[]

export const kNoClientQuotas: ClientQuotaConfigs = Object.freeze([])

export const kEntityUser = 'user'
export const kEntityClientId = 'client-id'
export const kEntityIp = 'ip'

export const kProducerByteRate = 'producer_byte_rate'
export const kConsumerByteRate = 'consumer_byte_rate'
export const kRequestPercentage = 'request_percentage'
export const kControllerMutationRate = 'controller_mutation_rate'
export const kConnectionCreationRate = 'connection_creation_rate'

/** Whether each key of a user/client-id entity must be a whole number (Kafka's LONG keys vs DOUBLE ones). */
const kClientKeys: ReadonlyMap<string, boolean> = new Map([
  [kProducerByteRate, true], [kConsumerByteRate, true], [kRequestPercentage, false], [kControllerMutationRate, false]
])

/** DescribeClientQuotas match types. */
export const MatchType = { EXACT: 0, DEFAULT: 1, SPECIFIED: 2 } as const

/** Kafka error codes used here (src/protocol/errors.ts holds the table; quota/ stays free of imports). */
const kInvalidRequest = 42

export interface EntityComponent {
  readonly entityType: string
  readonly entityName: string | null
}

export interface AlterOp {
  readonly key: string
  readonly value: number
  readonly remove: boolean
}

export interface AlterEntry {
  readonly entity: readonly EntityComponent[]
  readonly ops: readonly AlterOp[]
}

export interface AlterResult {
  readonly errorCode: number
  readonly errorMessage: string | null
  readonly entity: readonly EntityComponent[]
}

/** The canonical key of an entity: the same for the same types and names, whatever the order they came in. */
export function entityKey (entity: QuotaEntity): string {
  return JSON.stringify([entity.user === undefined ? 0 : entity.user, entity.clientId === undefined ? 0 : entity.clientId, entity.ip === undefined ? 0 : entity.ip])
}

/** An entity back in the wire's form: user, then client-id, then ip (the order Kafka's responses use). */
export function entityComponents (entity: QuotaEntity): EntityComponent[] {
  const components: EntityComponent[] = []
  if (entity.user !== undefined) components.push({ entityType: kEntityUser, entityName: entity.user })
  if (entity.clientId !== undefined) components.push({ entityType: kEntityClientId, entityName: entity.clientId })
  if (entity.ip !== undefined) components.push({ entityType: kEntityIp, entityName: entity.ip })
  return components
}

/** An IPv4 or IPv6 literal (Kafka resolves a host name; we take literals only). */
function isIpLiteral (text: string): boolean {
  if (/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(text)) return text.split('.').every((part) => Number(part) <= 255)
  return /^[0-9a-fA-F:]+$/.test(text) && text.includes(':') && text.split('::').length <= 2
}

/** Parses an Alter entry's entity; a string is the INVALID_REQUEST message. */
export function parseEntity (components: readonly EntityComponent[]): QuotaEntity | string {
  if (components.length === 0) return 'Invalid empty client quota entity'
  let user: string | null | undefined
  let clientId: string | null | undefined
  let ip: string | null | undefined
  for (const component of components) {
    const name = component.entityName
    if (name !== null && typeof name !== 'string') return 'Invalid client quota entity name'
    switch (component.entityType) {
      case kEntityUser:
        if (user !== undefined) return `Duplicate ${kEntityUser} entity type in client quota entity`
        user = name
        break
      case kEntityClientId:
        if (clientId !== undefined) return `Duplicate ${kEntityClientId} entity type in client quota entity`
        clientId = name
        break
      case kEntityIp:
        if (ip !== undefined) return `Duplicate ${kEntityIp} entity type in client quota entity`
        ip = name
        break
      default:
        return `Unhandled client quota entity type: ${clipName(String(component.entityType))}`
    }
  }
  if (ip !== undefined) {
    if (user !== undefined || clientId !== undefined) return 'Invalid quota entity combination, IP entity should not be combined with User or ClientId entities.'
    if (ip !== null && !isIpLiteral(ip)) return `${clipName(ip)} is not a valid IP or resolvable host.`
    return { ip }
  }
  if (user === '') return 'Empty user entity name is not allowed; use a null name for the default user'
  const entity: { user?: string | null, clientId?: string | null } = {}
  if (user !== undefined) entity.user = user
  if (clientId !== undefined) entity.clientId = clientId
  return entity
}

/** Why `op` cannot apply to `entity`, or null. */
function opError (entity: QuotaEntity, op: AlterOp): string | null {
  if (typeof op.key !== 'string') return 'Invalid empty configuration key'
  const isIp = entity.ip !== undefined
  if (isIp ? op.key !== kConnectionCreationRate : !kClientKeys.has(op.key)) {
    return `Invalid configuration key ${clipName(op.key)} for ${isIp ? 'ip' : 'user/client-id'} quota entities`
  }
  if (op.remove) return null
  const value = op.value
  if (typeof value !== 'number' || !Number.isFinite(value)) return `Invalid value ${String(value)} for configuration key ${clipName(op.key)}`
  const whole = isIp || kClientKeys.get(op.key) === true
  if (whole && !Number.isInteger(value)) return `Configuration ${clipName(op.key)} must be a whole number (${value} is not)`
  if (value <= 0) return `Invalid value ${value} for configuration key ${clipName(op.key)}: a quota must be positive`
  return null
}

/**
 * Applies AlterClientQuotas' entries to `configs` in order: each entry is checked whole and applied or refused
 * on its own (INVALID_REQUEST with a message). `validateOnly` checks without changing anything: `configs` comes
 * back as given.
 */
export function alterClientQuotas (configs: ClientQuotaConfigs, entries: readonly AlterEntry[], validateOnly: boolean): { configs: ClientQuotaConfigs, results: AlterResult[], changed: boolean } {
  const byKey = new Map<string, ClientQuotaRecord>()
  for (const record of configs) byKey.set(entityKey(record.entity), record)
  const results: AlterResult[] = []
  let changed = false
  for (const entry of entries) {
    const components = Array.isArray(entry?.entity) ? entry.entity : []
    const refuse = (message: string): void => { results.push({ errorCode: kInvalidRequest, errorMessage: message, entity: components }) }
    const entity = parseEntity(components)
    if (typeof entity === 'string') { refuse(entity); continue }
    const ops = Array.isArray(entry.ops) ? entry.ops : []
    let error: string | null = null
    const seen = new Set<string>()
    for (const op of ops) {
      error = opError(entity, op)
      if (error === null && seen.has(op.key)) error = `Duplicate quota key ${clipName(op.key)} not updated`
      if (error !== null) break
      seen.add(op.key)
    }
    if (error !== null) { refuse(error); continue }
    results.push({ errorCode: 0, errorMessage: null, entity: components })
    if (validateOnly) continue
    const key = entityKey(entity)
    const values: Record<string, number> = { ...(byKey.get(key)?.values ?? {}) }
    for (const op of ops) {
      if (op.remove) delete values[op.key]
      else values[op.key] = op.value
    }
    if (Object.keys(values).length === 0) byKey.delete(key)
    else byKey.set(key, { entity, values })
    changed = true
  }
  return { configs: changed ? [...byKey.values()] : configs, results, changed }
}

export interface DescribeComponent {
  readonly entityType: string
  readonly matchType: number
  readonly match: string | null
}

export interface DescribeResult {
  readonly errorCode: number
  readonly errorMessage: string | null
  readonly entries: Array<{ entity: EntityComponent[], values: Array<{ key: string, value: number }> }> | null
}

/** One filter: the entity type, and the name it must have (EXACT), null (DEFAULT), or any name (SPECIFIED: undefined). */
interface Filter { readonly field: 'user' | 'clientId' | 'ip', readonly name: string | null | undefined }

/**
 * DescribeClientQuotas: the entities matching every component (EXACT: that name; DEFAULT: the default entity;
 * SPECIFIED: any non-default name), and with `strict` no entity types beyond the components'. No components:
 * every entity (non-strict) or none (strict). Invalid filters answer INVALID_REQUEST with null entries.
 */
export function describeClientQuotas (configs: ClientQuotaConfigs, components: readonly DescribeComponent[], strict: boolean): DescribeResult {
  const invalid = (message: string): DescribeResult => ({ errorCode: kInvalidRequest, errorMessage: message, entries: null })
  const filters: Filter[] = []
  for (const component of components) {
    const field = component.entityType === kEntityUser ? 'user' : component.entityType === kEntityClientId ? 'clientId' : component.entityType === kEntityIp ? 'ip' : null
    if (component.entityType === '') return invalid('Unexpected empty filter component entity type')
    if (field === null) return invalid(`Custom entity type '${clipName(String(component.entityType))}' not supported`)
    if (filters.some((filter) => filter.field === field)) return invalid(`Duplicate ${clipName(String(component.entityType))} filter component entity type`)
    switch (component.matchType) {
      case MatchType.EXACT:
        if (component.match === null) return invalid('Request specified MATCH_TYPE_EXACT, but set match string to null.')
        filters.push({ field, name: component.match })
        break
      case MatchType.DEFAULT:
        if (component.match !== null) return invalid('Request specified MATCH_TYPE_DEFAULT, but also specified a match string.')
        filters.push({ field, name: null })
        break
      case MatchType.SPECIFIED:
        if (component.match !== null) return invalid('Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.')
        filters.push({ field, name: undefined })
        break
      default:
        return invalid(`Unknown match type ${component.matchType}`)
    }
  }
  const hasIp = filters.some((filter) => filter.field === 'ip')
  if (hasIp && filters.length > 1) return invalid('Invalid entity filter component combination, IP filter component should not be used with user or clientId filter component.')
  const entries: NonNullable<DescribeResult['entries']> = []
  for (const record of configs) {
    const entity = record.entity
    let matches = true
    for (const filter of filters) {
      const name = entity[filter.field]
      if (name === undefined) { matches = false; break }
      if (filter.name === undefined ? name === null : filter.name !== name) { matches = false; break }
    }
    if (!matches) continue
    if (strict) {
      const types = (entity.user !== undefined ? 1 : 0) + (entity.clientId !== undefined ? 1 : 0) + (entity.ip !== undefined ? 1 : 0)
      if (types !== filters.length) continue
    }
    entries.push({ entity: entityComponents(entity), values: Object.entries(record.values).map(([key, value]) => ({ key, value })) })
  }
  return { errorCode: 0, errorMessage: null, entries }
}

/** The client quota kinds a request is judged by, as indexes. */
export const QuotaKind = { PRODUCE: 0, FETCH: 1, REQUEST: 2, CONTROLLER_MUTATION: 3 } as const
export type QuotaKindIndex = typeof QuotaKind[keyof typeof QuotaKind]
const kKindKeys = [kProducerByteRate, kConsumerByteRate, kRequestPercentage, kControllerMutationRate] as const

/**
 * A resolved quota: its bound, and the sensor it is accounted in. As Kafka's DefaultQuotaCallback tags it, the
 * sensor is per (user, client-id) for the four user+client-id levels, per user for the user levels, per
 * client-id for the client-id levels: the clients of one user share a `/config/users/alice` quota.
 */
export interface ResolvedQuota {
  readonly bound: number
  readonly sensorKey: string
}

/**
 * Which quota applies to a (user, client-id) pair, per kind, in Kafka's order (most specific first):
 *   1 /config/users/<user>/clients/<client-id>   2 /config/users/<user>/clients/<default>   3 /config/users/<user>
 *   4 /config/users/<default>/clients/<client-id>   5 /config/users/<default>/clients/<default>   6 /config/users/<default>
 *   7 /config/clients/<client-id>   8 /config/clients/<default>
 * Each kind (quota key) resolves on its own: an entity holding only consumer_byte_rate does not stop a produce
 * quota from coming from a less specific level. Built once per metadata version; `enabled[kind]` is the one
 * check a request pays when no entity holds that kind's key.
 */
export class QuotaResolver {
  /** enabled[kind]: some entity holds that kind's key. */
  readonly enabled: readonly boolean[]
  /** Per kind: entity key -> value. */
  readonly #values: ReadonlyArray<ReadonlyMap<string, number>>
  /** Per kind: (user, client-id) -> what it resolved to (null: no quota), so a client resolves once per version. */
  readonly #resolved: ReadonlyArray<Map<string, ResolvedQuota | null>>

  constructor (configs: ClientQuotaConfigs) {
    const values = kKindKeys.map(() => new Map<string, number>())
    for (const record of configs) {
      if (record.entity.ip !== undefined) continue
      const key = entityKey(record.entity)
      for (let kind = 0; kind < kKindKeys.length; kind++) {
        const value = record.values[kKindKeys[kind]]
        if (typeof value === 'number') values[kind].set(key, value)
      }
    }
    this.#values = values
    this.#resolved = values.map(() => new Map<string, ResolvedQuota | null>())
    this.enabled = values.map((map) => map.size > 0)
  }

  get any (): boolean {
    return this.enabled.some((on) => on)
  }

  /** The quota of `kind` for `user` (the principal's name) and `clientId` (the header's, "" for none), or null. */
  resolve (kind: QuotaKindIndex, user: string, clientId: string): ResolvedQuota | null {
    const values = this.#values[kind]
    if (values.size === 0) return null
    const cache = this.#resolved[kind]
    // Length-prefixed: unambiguous whatever the names hold.
    const cacheKey = `${user.length}:${user}${clientId}`
    const cached = cache.get(cacheKey)
    if (cached !== undefined) return cached
    // Bounded: a flood of distinct client ids resolves afresh rather than growing the cache without end.
    if (cache.size >= kResolvedCacheEntries) cache.clear()
    const resolved = this.#resolveUncached(values, kind, user, clientId)
    cache.set(cacheKey, resolved)
    return resolved
  }

  #resolveUncached (values: ReadonlyMap<string, number>, kind: QuotaKindIndex, user: string, clientId: string): ResolvedQuota | null {
    const levels: Array<[QuotaEntity, string, string]> = [
      [{ user, clientId }, user, clientId],
      [{ user, clientId: null }, user, clientId],
      [{ user }, user, ''],
      [{ user: null, clientId }, user, clientId],
      [{ user: null, clientId: null }, user, clientId],
      [{ user: null }, user, ''],
      [{ clientId }, '', clientId],
      [{ clientId: null }, '', clientId]
    ]
    for (const [entity, sensorUser, sensorClient] of levels) {
      const bound = values.get(entityKey(entity))
      if (bound !== undefined) return { bound, sensorKey: `${kind}:${sensorUser.length}:${sensorUser}${sensorClient}` }
    }
    return null
  }
}

/** (user, client-id) pairs a resolver remembers per kind. */
const kResolvedCacheEntries = 10_000

export const kNoQuotaResolver = new QuotaResolver(kNoClientQuotas)
