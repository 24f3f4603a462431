// scripts/check-test-prerequisites.ts (npm's "pretest"): a clone without the test clients gets one message
// naming what is missing and the command that installs it, instead of twenty-odd failing tests.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { kRepoRoot } from '../helpers/broker.ts'
import { checkPrerequisites, defaultPrerequisites, findExecutable, kAptPackages, type Prerequisite } from '../../scripts/check-test-prerequisites.ts'

const kScript = join(kRepoRoot, 'scripts', 'check-test-prerequisites.ts')

function probe (what: string, present: boolean, from: Prerequisite['from']): Prerequisite {
  return { what, from, present: () => present }
}

test('says nothing when every prerequisite is there', () => {
  assert.equal(checkPrerequisites([probe('kcat', true, { apt: 'kcat' }), probe('node_modules/kafkajs', true, { npm: true })]), null)
})

test('names every missing prerequisite in one message, with the commands that install them', () => {
  const message = checkPrerequisites([
    probe('kcat (on PATH)', false, { apt: 'kcat' }),
    probe('/usr/bin/python3 with confluent_kafka', false, { apt: 'python3-confluent-kafka' }),
    probe('node_modules/kafkajs', false, { npm: true }),
    probe('node_modules/@platformatic/kafka', true, { npm: true })
  ])
  assert.equal(message, [
    'npm test: the tests need kcat (on PATH) (Debian package kcat), /usr/bin/python3 with confluent_kafka (Debian package python3-confluent-kafka), node_modules/kafkajs, which are missing.',
    'Install them with: npm install && npm run setup',
    `(npm run setup runs: sudo apt-get update && sudo apt-get install -y ${kAptPackages}, as .ci/run does)`
  ].join('\n'))
})

test('a missing node module alone asks for npm install only', () => {
  const message = checkPrerequisites([probe('node_modules/@platformatic/kafka', false, { npm: true })])
  assert.equal(message, 'npm test: the tests need node_modules/@platformatic/kafka, which is missing.\nInstall it with: npm install')
})

test('finds executables by absolute path or on PATH', () => {
  assert.equal(findExecutable(process.execPath, undefined), true)
  assert.equal(findExecutable('node', dirname(process.execPath)), true)
  assert.equal(findExecutable('node', '/nonexistent-dir'), false)
  assert.equal(findExecutable('kcat', ''), false)
})

test('the default probes look for kcat where KCAT says, on PATH', () => {
  const kcat = defaultPrerequisites({ PATH: dirname(process.execPath), KCAT: 'node' })[0]
  assert.equal(kcat.what, 'node (on PATH)')
  assert.equal(kcat.present(), true)
  assert.equal(defaultPrerequisites({ PATH: '/nonexistent-dir' })[0].present(), false)
})

test('run with a PATH lacking kcat, the script exits 1 with the one message on stderr', () => {
  // Only node's own directory on PATH: kcat cannot be found there (the other probes do not use PATH).
  const result = spawnSync(process.execPath, [kScript], { env: { PATH: dirname(process.execPath) }, encoding: 'utf8' })
  assert.equal(result.status, 1, result.stderr)
  assert.equal(result.stdout, '')
  const lines = result.stderr.trimEnd().split('\n')
  assert.match(lines[0], /^npm test: the tests need kcat \(on PATH\) \(Debian package kcat\)/)
  assert.match(lines[1], /^Install (it|them) with: .*npm run setup$/)
  assert.equal(lines[2], `(npm run setup runs: sudo apt-get update && sudo apt-get install -y ${kAptPackages}, as .ci/run does)`)
  assert.equal(lines.length, 3)
})
