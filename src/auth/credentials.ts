// The SCRAM user store's types and rules: what is persisted with the cluster metadata (meta/cluster.json, by the
// controller) and published to every worker (any worker may authenticate a connection), how
// AlterUserScramCredentials and DescribeUserScramCredentials judge a request (Kafka's ScramControlManager and
// its describe), and the users given at start (`--scram-users`, kafka-storage format --add-scram's syntax).
//
// Stored per user and mechanism: salt, iterations, StoredKey and ServerKey, in base64 so the store is JSON and
// crosses threads as plain data. No password and no SaltedPassword is stored or logged anywhere.
import { ConfigError } from '../config/config-error.ts'
import {
  deriveScramKeys, kScramDefaultIterations, kScramMaxIterations, kScramMinIterations, scramMechanismByName,
  scramMechanismByType, type ScramKeys, type ScramMechanism, type ScramMechanismName
} from './scram.ts'

export type { ScramMechanismName }
export type SaslMechanismName = ScramMechanismName | 'PLAIN' | 'OAUTHBEARER'

/** One user's keys for one mechanism, as persisted. */
export interface StoredScramCredential {
  readonly salt: string
  readonly iterations: number
  readonly storedKey: string
  readonly serverKey: string
}

/** user -> mechanism name -> keys. */
export type StoredScramCredentials = Readonly<Record<string, Readonly<Partial<Record<ScramMechanismName, StoredScramCredential>>>>>

export const kNoScramCredentials: StoredScramCredentials = Object.freeze({})

export function storedCredential (keys: ScramKeys): StoredScramCredential {
  return { salt: keys.salt.toString('base64'), iterations: keys.iterations, storedKey: keys.storedKey.toString('base64'), serverKey: keys.serverKey.toString('base64') }
}

export function keysOf (stored: StoredScramCredential): ScramKeys {
  return { salt: Buffer.from(stored.salt, 'base64'), iterations: stored.iterations, storedKey: Buffer.from(stored.storedKey, 'base64'), serverKey: Buffer.from(stored.serverKey, 'base64') }
}

export function hasAnyCredential (store: StoredScramCredentials): boolean {
  for (const user of Object.keys(store)) if (Object.keys(store[user]).length > 0) return true
  return false
}

const kSaslMechanisms: ReadonlySet<string> = new Set(['SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN', 'OAUTHBEARER'])

/** `sasl.enabled.mechanisms`: a comma-separated list of SCRAM-SHA-256, SCRAM-SHA-512, PLAIN and OAUTHBEARER. */
export function parseSaslMechanisms (value: string, where: string): SaslMechanismName[] {
  const mechanisms: SaslMechanismName[] = []
  for (const part of value.split(',').map((text) => text.trim()).filter((text) => text !== '')) {
    const name = part.toUpperCase()
    if (!kSaslMechanisms.has(name)) throw new ConfigError(`${where}: unsupported SASL mechanism "${part}" (SCRAM-SHA-256, SCRAM-SHA-512, PLAIN or OAUTHBEARER)`)
    if (!mechanisms.includes(name as SaslMechanismName)) mechanisms.push(name as SaslMechanismName)
  }
  return mechanisms
}

/**
 * Users given at start: entries `SCRAM-SHA-256=[name=alice,password=secret]` (optionally `iterations=N`),
 * separated by commas, whitespace or new lines; `#` starts a comment line. Each is salted and derived here, so
 * that no password outlives parsing. A user and mechanism given twice is an error.
 */
export function parseScramUsers (sources: ReadonlyArray<{ readonly text: string, readonly where: string }>): StoredScramCredentials {
  const store: Record<string, Partial<Record<ScramMechanismName, StoredScramCredential>>> = {}
  for (const { text, where } of sources) {
    const body = text.split('\n').filter((line) => !line.trim().startsWith('#')).join('\n')
    const entry = /([A-Za-z0-9-]+)=\[([^\]]*)\]/g
    let rest = body
    let match: RegExpExecArray | null
    while ((match = entry.exec(body)) !== null) {
      rest = rest.replace(match[0], '')
      const mechanism = scramMechanismByName(match[1].toUpperCase())
      if (mechanism === undefined) throw new ConfigError(`${where}: unsupported SCRAM mechanism "${match[1]}" (SCRAM-SHA-256 or SCRAM-SHA-512)`)
      const fields = new Map<string, string>()
      for (const part of match[2].split(',')) {
        const eq = part.indexOf('=')
        if (eq <= 0) throw new ConfigError(`${where}: expected key=value in the ${mechanism.name} entry, got "${part.includes('password') ? 'password=...' : part}"`)
        const key = part.slice(0, eq).trim().toLowerCase()
        if (key !== 'name' && key !== 'password' && key !== 'iterations') throw new ConfigError(`${where}: unknown key "${key}" in a ${mechanism.name} entry (name, password, iterations)`)
        fields.set(key, part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'))
      }
      const name = fields.get('name') ?? ''
      const password = fields.get('password')
      if (name === '') throw new ConfigError(`${where}: a ${mechanism.name} entry needs name=`)
      if (password === undefined || password === '') throw new ConfigError(`${where}: the ${mechanism.name} entry of ${name} needs password=`)
      const iterationsText = fields.get('iterations') ?? String(kScramDefaultIterations)
      const iterations = Number(iterationsText)
      if (!/^\d+$/.test(iterationsText) || iterations < kScramMinIterations || iterations > kScramMaxIterations) {
        throw new ConfigError(`${where}: iterations of ${name} must be ${kScramMinIterations} to ${kScramMaxIterations}, got "${iterationsText}"`)
      }
      const user = store[name] ?? (store[name] = {})
      if (user[mechanism.name] !== undefined) throw new ConfigError(`${where}: ${mechanism.name} credentials of ${name} given twice`)
      user[mechanism.name] = storedCredential(deriveScramKeys(mechanism, password, iterations))
    }
    if (rest.replace(/[\s,;]/g, '') !== '') throw new ConfigError(`${where}: expected SCRAM-SHA-256=[name=...,password=...] entries`)
  }
  return store
}

/** An upsertion whose SaltedPassword the handler already turned into keys (it never leaves the worker). */
export interface ScramUpsertion {
  readonly name: string
  readonly mechanism: number
  readonly iterations: number
  /** null when the request's salt or salted password was empty (refused below). */
  readonly credential: StoredScramCredential | null
}

export interface ScramDeletion {
  readonly name: string
  readonly mechanism: number
}

export interface ScramAlterationResult {
  readonly user: string
  readonly errorCode: number
  readonly errorMessage: string | null
}

// Kafka's error codes (src/protocol/errors.ts holds them all; auth/ does not import protocol's tables for four).
const kNone = 0
const kUnsupportedSaslMechanism = 33
const kResourceNotFound = 91
const kDuplicateResource = 92
const kUnacceptableCredential = 93

function usernameAndMechanismError (name: string, mechanism: number): { code: number, message: string } | null {
  if (name === '') return { code: kUnacceptableCredential, message: 'Username must not be empty' }
  if (scramMechanismByType(mechanism) === undefined) return { code: kUnsupportedSaslMechanism, message: 'Unknown SCRAM mechanism' }
  return null
}

/**
 * AlterUserScramCredentials as Kafka's controller judges it: a user named twice in one request (in deletions,
 * upsertions or both) fails every time with DUPLICATE_RESOURCE; empty names and unknown mechanisms fail; an
 * upsertion with too few or too many iterations (or no salt or salted password) is UNACCEPTABLE_CREDENTIAL; a
 * deletion of a credential that does not exist is RESOURCE_NOT_FOUND. The rest apply together.
 */
export function alterScramCredentials (store: StoredScramCredentials, deletions: readonly ScramDeletion[], upsertions: readonly ScramUpsertion[]): { results: ScramAlterationResult[], store: StoredScramCredentials, changed: boolean } {
  const errors = new Map<string, { code: number, message: string }>()
  const toDelete = new Map<string, ScramDeletion>()
  const toUpsert = new Map<string, ScramUpsertion>()
  const duplicate = { code: kDuplicateResource, message: 'A user credential cannot be altered twice in the same request' }
  for (const deletion of deletions) {
    if (errors.has(deletion.name)) continue
    if (toDelete.delete(deletion.name)) { errors.set(deletion.name, duplicate); continue }
    const error = usernameAndMechanismError(deletion.name, deletion.mechanism) ??
      (store[deletion.name]?.[scramMechanismByType(deletion.mechanism)!.name] === undefined ? { code: kResourceNotFound, message: 'Attempt to delete a user credential that does not exist' } : null)
    if (error !== null) errors.set(deletion.name, error)
    else toDelete.set(deletion.name, deletion)
  }
  for (const upsertion of upsertions) {
    if (errors.has(upsertion.name)) continue
    if (toDelete.delete(upsertion.name) || toUpsert.delete(upsertion.name)) { errors.set(upsertion.name, duplicate); continue }
    let error = usernameAndMechanismError(upsertion.name, upsertion.mechanism)
    if (error === null && upsertion.iterations < kScramMinIterations) error = { code: kUnacceptableCredential, message: 'Too few iterations' }
    if (error === null && upsertion.iterations > kScramMaxIterations) error = { code: kUnacceptableCredential, message: 'Too many iterations' }
    if (error === null && upsertion.credential === null) error = { code: kUnacceptableCredential, message: 'Salt and salted password must not be empty' }
    if (error !== null) errors.set(upsertion.name, error)
    else toUpsert.set(upsertion.name, upsertion)
  }
  const next: Record<string, Partial<Record<ScramMechanismName, StoredScramCredential>>> = {}
  for (const [user, mechanisms] of Object.entries(store)) next[user] = { ...mechanisms }
  const results: ScramAlterationResult[] = []
  for (const deletion of toDelete.values()) {
    const user = next[deletion.name]
    delete user[scramMechanismByType(deletion.mechanism)!.name]
    if (Object.keys(user).length === 0) delete next[deletion.name]
    results.push({ user: deletion.name, errorCode: kNone, errorMessage: null })
  }
  for (const upsertion of toUpsert.values()) {
    const user = next[upsertion.name] ?? (next[upsertion.name] = {})
    user[scramMechanismByType(upsertion.mechanism)!.name] = upsertion.credential!
    results.push({ user: upsertion.name, errorCode: kNone, errorMessage: null })
  }
  for (const [user, error] of errors) results.push({ user, errorCode: error.code, errorMessage: error.message })
  return { results, store: next, changed: toDelete.size + toUpsert.size > 0 }
}

export interface ScramDescription {
  readonly user: string
  readonly errorCode: number
  readonly errorMessage: string | null
  readonly credentialInfos: Array<{ mechanism: number, iterations: number }>
}

/**
 * DescribeUserScramCredentials: `users` null or empty describes every user with a credential; a user named
 * twice is DUPLICATE_RESOURCE, one with no credential RESOURCE_NOT_FOUND. Only mechanisms and iterations are
 * told, never a salt or key.
 */
export function describeScramCredentials (store: StoredScramCredentials, users: readonly string[] | null): ScramDescription[] {
  const describe = (user: string): ScramDescription => {
    const credentials = store[user] ?? {}
    const infos: Array<{ mechanism: number, iterations: number }> = []
    for (const [name, credential] of Object.entries(credentials)) {
      if (credential !== undefined) infos.push({ mechanism: scramMechanismByName(name)!.type, iterations: credential.iterations })
    }
    infos.sort((a, b) => a.mechanism - b.mechanism)
    if (infos.length === 0) return { user, errorCode: kResourceNotFound, errorMessage: 'Attempt to describe a user credential that does not exist', credentialInfos: [] }
    return { user, errorCode: kNone, errorMessage: null, credentialInfos: infos }
  }
  if (users === null || users.length === 0) return Object.keys(store).sort().map(describe).filter((result) => result.errorCode === kNone)
  const counts = new Map<string, number>()
  for (const user of users) counts.set(user, (counts.get(user) ?? 0) + 1)
  const results: ScramDescription[] = []
  for (const [user, times] of counts) {
    results.push(times > 1
      ? { user, errorCode: kDuplicateResource, errorMessage: 'Cannot describe SCRAM credentials for the same user twice in a single request', credentialInfos: [] }
      : describe(user))
  }
  return results
}

/** The keys of `user` for `mechanism`, from a store (null: none). */
export function lookupCredential (store: StoredScramCredentials, user: string, mechanism: ScramMechanism): ScramKeys | undefined {
  const stored = Object.hasOwn(store, user) ? store[user][mechanism.name] : undefined
  return stored === undefined ? undefined : keysOf(stored)
}
