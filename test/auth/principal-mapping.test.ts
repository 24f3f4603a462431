import { test } from 'node:test'
import assert from 'node:assert/strict'
import { distinguishedName, mapPrincipalName, parsePrincipalMappingRules } from '../../src/auth/principal-mapping.ts'
import { ConfigError } from '../../src/config/config-error.ts'

const map = (rules: string, name: string): string | null => mapPrincipalName(parsePrincipalMappingRules(rules, 'rules'), name)

test('DEFAULT (and an empty list) keeps the distinguished name as it is', () => {
  assert.equal(map('DEFAULT', 'CN=alice,O=Acme'), 'CN=alice,O=Acme')
  assert.equal(map('', 'CN=alice,O=Acme'), 'CN=alice,O=Acme')
})

test('a RULE must match the whole name; its replacement names the groups; L and U change case', () => {
  assert.equal(map('RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/', 'CN=kafka-client,OU=ServiceUsers,O=Acme'), 'kafka-client')
  assert.equal(map('RULE:^CN=(.*?),OU=(.*?),O=(.*?)$/$1@$2/L', 'CN=Alice,OU=Eng,O=Acme'), 'alice@eng')
  assert.equal(map('RULE:^CN=(.*?),OU=(.*?)$/$1/U', 'CN=alice,OU=eng'), 'ALICE')
  // A partial match is no match (Java's Matcher#matches), so the name falls through to no rule at all.
  assert.equal(map('RULE:CN=alice/x/', 'CN=alice,O=Acme'), null)
})

test('rules are tried in order: the first match wins, DEFAULT catches the rest', () => {
  const rules = 'RULE:^CN=([^,]*),O=Acme$/$1/L, RULE:^CN=([^,]*),O=Other$/other-$1/,DEFAULT'
  assert.equal(map(rules, 'CN=Alice,O=Acme'), 'alice')
  assert.equal(map(rules, 'CN=bob,O=Other'), 'other-bob')
  assert.equal(map(rules, 'CN=carol,O=Elsewhere'), 'CN=carol,O=Elsewhere')
})

test('rules may be separated by newlines, and \\/ is a slash inside a pattern or replacement', () => {
  const rules = 'RULE:^CN=(.*)\\/admin$/$1\\/root/\n  DEFAULT'
  assert.equal(map(rules, 'CN=alice/admin'), 'alice/root')
  assert.equal(map(rules, 'CN=alice'), 'CN=alice')
})

test('a name no rule matches has no principal', () => {
  assert.equal(map('RULE:^CN=(.*),O=Acme$/$1/', 'CN=alice,O=Other'), null)
})

test('malformed rules are configuration errors naming the setting', () => {
  for (const bad of ['RULE:^CN=(.*)$/$1', 'RULE:^CN=(.*)$/$1/X', 'NOPE', 'DEFAULT,RULE:', 'RULE:(/x/']) {
    assert.throws(() => parsePrincipalMappingRules(bad, '--ssl-principal-mapping-rules'), (error: unknown) => {
      assert.ok(error instanceof ConfigError, bad)
      assert.match((error as Error).message, /^--ssl-principal-mapping-rules: /)
      return true
    })
  }
})

test('a certificate subject becomes an RFC 2253 name: most specific first, special characters escaped', () => {
  // node:crypto's X509Certificate#subject: one attribute a line, in certificate order.
  assert.equal(distinguishedName('C=US\nO=Acme\nOU=Eng\nCN=alice'), 'CN=alice,OU=Eng,O=Acme,C=US')
  assert.equal(distinguishedName('O=Acme, Inc.\nCN=bob+admin'), 'CN=bob\\+admin,O=Acme\\, Inc.')
})
