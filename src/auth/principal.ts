// Who a connection speaks for, in Kafka's terms: a principal type and name, written `User:alice`. Before (or
// without) authentication a connection is `User:ANONYMOUS`, as Kafka's PLAINTEXT listeners make it. SASL sets
// the principal of the authenticated user; the authorizer and quotas read it.

export interface KafkaPrincipal {
  /** `User` for every principal Shoal makes (Kafka's KafkaPrincipal.USER_TYPE). */
  readonly type: string
  readonly name: string
}

export const kAnonymousPrincipal: KafkaPrincipal = Object.freeze({ type: 'User', name: 'ANONYMOUS' })

/** `User:alice`: the form ACLs, super.users and logs use. */
export function principalString (principal: KafkaPrincipal): string {
  return `${principal.type}:${principal.name}`
}
