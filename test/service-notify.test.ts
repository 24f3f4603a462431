// src/service-notify.ts: without NOTIFY_SOCKET nothing is run; with it, systemd-notify is run with READY=1 or
// STOPPING=1 and a status, in the given environment; a runner that fails, throws or cannot start the command
// is reported to onError and never thrown. (test/deploy.test.ts checks the broker process calls it.)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { kNotifyCommand, notifyReady, notifyRequested, notifyStopping, type NotifyRunner } from '../src/service-notify.ts'
import { waitFor } from './helpers/broker.ts'

interface Call { file: string, args: readonly string[], env: NodeJS.ProcessEnv }

function recordingRunner (result: Error | null = null): { calls: Call[], run: NotifyRunner } {
  const calls: Call[] = []
  return { calls, run: (file, args, env, done) => { calls.push({ file, args, env }); done(result) } }
}

test('does nothing without NOTIFY_SOCKET, or with an empty one', () => {
  for (const env of [{}, { NOTIFY_SOCKET: '' }]) {
    const { calls, run } = recordingRunner()
    const errors: string[] = []
    assert.equal(notifyRequested(env), false)
    assert.equal(notifyReady('serving', { env, run, onError: (message) => errors.push(message) }), false)
    assert.equal(notifyStopping('stopping', { env, run, onError: (message) => errors.push(message) }), false)
    assert.deepEqual(calls, [])
    assert.deepEqual(errors, [])
  }
})

test('runs systemd-notify with READY=1 and STOPPING=1 and a status, in the given environment', () => {
  const env = { NOTIFY_SOCKET: '/run/systemd/notify', PATH: '/usr/bin' }
  const { calls, run } = recordingRunner()
  const errors: string[] = []
  assert.equal(notifyReady('serving Kafka on 0.0.0.0:9092', { env, run, onError: (message) => errors.push(message) }), true)
  assert.equal(notifyStopping('SIGTERM: shutting down', { env, run, onError: (message) => errors.push(message) }), true)
  assert.deepEqual(calls, [
    { file: kNotifyCommand, args: ['READY=1', 'STATUS=serving Kafka on 0.0.0.0:9092'], env },
    { file: kNotifyCommand, args: ['STOPPING=1', 'STATUS=SIGTERM: shutting down'], env }
  ])
  assert.equal(kNotifyCommand, 'systemd-notify')
  assert.deepEqual(errors, [])
})

test('a failing, throwing or missing systemd-notify is reported, never thrown', async () => {
  const env = { NOTIFY_SOCKET: '@shoal-test-notify' }
  const errors: string[] = []
  const onError = (message: string): void => { errors.push(message) }
  assert.equal(notifyReady('serving', { env, run: recordingRunner(new Error('exit code 1')).run, onError }), true)
  assert.equal(notifyReady('serving', { env, run: () => { throw new Error('spawn failed') }, onError }), true)
  // No onError at all, and one that throws: still nothing thrown.
  assert.equal(notifyReady('serving', { env, run: recordingRunner(new Error('exit code 1')).run }), true)
  assert.equal(notifyReady('serving', { env, run: recordingRunner(new Error('exit code 1')).run, onError: () => { throw new Error('logger down') } }), true)
  assert.equal(errors.length, 2)
  assert.match(errors[0], /systemd-notify READY=1.*exit code 1/)
  assert.match(errors[1], /spawn failed/)

  // The default runner, with a PATH where there is no systemd-notify: the spawn error comes back asynchronously.
  const missing: string[] = []
  assert.equal(notifyStopping('stopping', { env: { NOTIFY_SOCKET: '/nonexistent/notify', PATH: '/nonexistent' }, onError: (message) => missing.push(message) }), true)
  await waitFor(() => missing.length === 1, 10_000, 'the spawn error')
  assert.match(missing[0], /STOPPING=1.*ENOENT/)
})
