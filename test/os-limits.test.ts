import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { parseOpenFileLimit, raiseOpenFileLimit } from '../src/os-limits.ts'
import { startBroker, waitFor } from './helpers/broker.ts'

const kLimits = (soft: string, hard: string): string =>
  `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}  ${hard}  files\n`

test('parses the open file limits of /proc/<pid>/limits', () => {
  assert.deepEqual(parseOpenFileLimit(kLimits('1024', '524288')), { soft: 1024, hard: 524288 })
  assert.deepEqual(parseOpenFileLimit(kLimits('1024', 'unlimited')), { soft: 1024, hard: Infinity })
  assert.equal(parseOpenFileLimit('Max processes 10 10 processes\n'), null)
})

test('says why it leaves the limit alone: already the hard limit, prlimit missing, unreadable limits', () => {
  assert.match(raiseOpenFileLimit({ readLimits: () => kLimits('4096', '4096') }).message, /already the hard limit/)
  const missing = raiseOpenFileLimit({ readLimits: () => kLimits('1024', '4096'), prlimit: '/nonexistent/prlimit' })
  assert.equal(missing.ok, false)
  assert.match(missing.message, /cannot raise open file limit from 1024 to 4096: \/nonexistent\/prlimit not found/)
  const unreadable = raiseOpenFileLimit({ readLimits: () => { throw new Error('no /proc') } })
  assert.equal(unreadable.ok, false)
  assert.match(unreadable.message, /cannot read the open file limit/)
})

test('raises a process\'s soft open file limit to its hard limit through prlimit, and says so', async t => {
  if (!existsSync('/usr/bin/prlimit') || !existsSync('/proc/self/limits')) {
    t.skip('needs Linux and util-linux prlimit')
    return
  }
  const own = parseOpenFileLimit(readFileSync('/proc/self/limits', 'latin1'))!
  if (own.hard < 512 || own.hard === Infinity) {
    t.skip(`hard limit ${own.hard} leaves no room to start lower`)
    return
  }
  // Node itself raises its soft limit at start (PlatformInit), so the subject is another process: a sleep
  // started with a soft limit of 256.
  const child = spawn('/usr/bin/prlimit', [`--nofile=256:${own.hard}`, 'sleep', '30'], { stdio: 'ignore' })
  t.after(() => child.kill('SIGKILL'))
  const limitsOf = (): string => readFileSync(`/proc/${child.pid}/limits`, 'latin1')
  await waitFor(() => existsSync(`/proc/${child.pid}/cmdline`) && readFileSync(`/proc/${child.pid}/cmdline`, 'latin1').startsWith('sleep') &&
    parseOpenFileLimit(limitsOf())?.soft === 256, 10_000, 'the child to run under a soft limit of 256')
  const result = raiseOpenFileLimit({ pid: child.pid })
  assert.equal(result.ok, true, result.message)
  assert.equal(result.message, `raised open file limit from 256 to ${own.hard}`)
  assert.deepEqual(parseOpenFileLimit(limitsOf()), { soft: own.hard, hard: own.hard })
})

test('the broker logs its open file limit at start', async t => {
  const broker = await startBroker({ workers: 1, args: ['--log-level', 'info'] })
  t.after(() => broker.stop())
  assert.match(broker.output(), /(raised open file limit from \d+ to \d+|open file limit is \d+, already the hard limit)/)
})
