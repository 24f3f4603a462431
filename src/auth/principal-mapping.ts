// Kafka's `ssl.principal.mapping.rules` (KIP-371): how a client certificate's subject becomes the name of the
// principal of a connection on an SSL listener (`User:<name>`).
//
// The subject is a distinguished name in RFC 2253 form, as Java's X500Principal.getName() writes it: the most
// specific RDN first, `CN=alice,OU=eng,O=Acme`. The rules are a comma- (or newline-) separated list, tried in
// order; the first that matches names the principal:
//   DEFAULT                          the distinguished name as it is
//   RULE:pattern/replacement/        pattern must match the WHOLE name (a Java regex; JavaScript's is close
//   RULE:pattern/replacement/L       enough for the patterns used here); replacement's $1, $2 name its groups;
//   RULE:pattern/replacement/U       L or U lower- or upper-cases the result. `\/` is a slash inside either part.
// A name no rule matches has no principal: the connection is refused (Kafka fails the authentication).

import { ConfigError } from '../config/config-error.ts'

export interface PrincipalMappingRule {
  /** null: DEFAULT. */
  readonly pattern: RegExp | null
  readonly replacement: string
  readonly caseChange: 'L' | 'U' | null
}

/** Kafka's rule grammar: DEFAULT, or RULE: two slash-terminated parts (a `\/` inside does not end one), then L/U. */
const kRule = /^\s*(?:(DEFAULT)|RULE:((?:\\\/|[^/])*)\/((?:\\\/|[^/])*)\/([LU])?)\s*(?:[,\n]|$)/

export function parsePrincipalMappingRules (value: string, where: string): PrincipalMappingRule[] {
  const rules: PrincipalMappingRule[] = []
  let rest = value.trim()
  if (rest === '') return [{ pattern: null, replacement: '', caseChange: null }]
  while (rest.trim() !== '') {
    const match = kRule.exec(rest)
    if (match === null) throw new ConfigError(`${where}: expected DEFAULT or RULE:pattern/replacement/[LU], got "${rest.trim()}"`)
    if (match[1] !== undefined) {
      rules.push({ pattern: null, replacement: '', caseChange: null })
    } else {
      const source = match[2].replaceAll('\\/', '/')
      let pattern: RegExp
      try {
        pattern = new RegExp(`^(?:${source})$`)
      } catch (error) {
        throw new ConfigError(`${where}: bad pattern "${source}": ${(error as Error).message}`)
      }
      rules.push({ pattern, replacement: match[3].replaceAll('\\/', '/'), caseChange: (match[4] as 'L' | 'U' | undefined) ?? null })
    }
    rest = rest.slice(match[0].length)
  }
  return rules
}

/** The principal name for `distinguishedName`, or null where no rule matches. */
export function mapPrincipalName (rules: readonly PrincipalMappingRule[], distinguishedName: string): string | null {
  for (const rule of rules) {
    if (rule.pattern === null) return distinguishedName
    if (!rule.pattern.test(distinguishedName)) continue
    const name = distinguishedName.replace(rule.pattern, rule.replacement)
    return rule.caseChange === 'L' ? name.toLowerCase() : rule.caseChange === 'U' ? name.toUpperCase() : name
  }
  return null
}

/** RFC 2253's special characters in an attribute value, escaped with a backslash. */
function escapeDnValue (value: string): string {
  return value.replace(/[,+"\\<>;]/g, '\\$&').replace(/^[ #]/, '\\$&').replace(/ $/, '\\ ')
}

/**
 * The RFC 2253 name of a certificate subject as node:crypto's X509Certificate#subject gives it: one `KEY=value`
 * per line, in certificate order (least specific first); the name lists them most specific first.
 */
export function distinguishedName (subjectLines: string): string {
  const parts: string[] = []
  for (const line of subjectLines.split('\n')) {
    if (line === '') continue
    const equals = line.indexOf('=')
    parts.push(equals <= 0 ? line : `${line.slice(0, equals)}=${escapeDnValue(line.slice(equals + 1))}`)
  }
  return parts.reverse().join(',')
}
