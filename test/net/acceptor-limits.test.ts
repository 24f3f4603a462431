import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AcceptorLimits } from '../../src/net/acceptor-limits.ts'

function limits (maxConnections: number, maxConnectionsPerIp: number, maxConnectionCreationRatePerIp = 0): AcceptorLimits {
  return new AcceptorLimits({ maxConnections, maxConnectionsPerIp, maxConnectionCreationRatePerIp })
}

test('admits up to max.connections in all, then refuses until one is released', () => {
  const l = limits(3, 100)
  assert.equal(l.admit('10.0.0.1', 0), null)
  assert.equal(l.admit('10.0.0.2', 1), null)
  assert.equal(l.admit('10.0.0.3', 0), null)
  assert.equal(l.admit('10.0.0.4', 1), 'max-connections')
  assert.equal(l.total, 3)
  l.released('10.0.0.2', 1)
  assert.equal(l.admit('10.0.0.4', 1), null)
  assert.equal(l.total, 3)
})

test('admits up to max.connections.per.ip from one IP while other IPs still connect', () => {
  const l = limits(100, 2)
  assert.equal(l.admit('127.0.0.1', 0), null)
  assert.equal(l.admit('127.0.0.1', 1), null)
  assert.equal(l.admit('127.0.0.1', 0), 'max-connections-per-ip')
  assert.equal(l.admit('::1', 0), null)
  assert.equal(l.connectionsFrom('127.0.0.1'), 2)
  assert.equal(l.total, 3, 'a refused connection is not counted')
  l.released('127.0.0.1', 1)
  assert.equal(l.connectionsFrom('127.0.0.1'), 1)
  assert.equal(l.admit('127.0.0.1', 1), null)
})

test('a connection creation rate per IP refuses within the second, refused attempts included, and not other IPs', () => {
  const l = limits(100, 100, 2)
  assert.equal(l.admit('10.0.0.1', 0, 1000), null)
  assert.equal(l.admit('10.0.0.1', 0, 1100), null)
  assert.equal(l.admit('10.0.0.1', 0, 1200), 'max-connection-creation-rate-per-ip')
  assert.equal(l.admit('10.0.0.2', 0, 1200), null)
  assert.equal(l.admit('10.0.0.1', 0, 1999), 'max-connection-creation-rate-per-ip')
  assert.equal(l.admit('10.0.0.1', 0, 2000), null, 'a new window')
  assert.equal(l.total, 4)
})

test('a rate of 0 is unlimited', () => {
  const l = limits(1000, 1000, 0)
  for (let i = 0; i < 500; i++) assert.equal(l.admit('10.0.0.1', 0, 5), null)
})

test('releaseWorker gives back every connection of a dead worker, per IP, and leaves the others', () => {
  const l = limits(5, 3)
  assert.equal(l.admit('a', 0), null)
  assert.equal(l.admit('a', 0), null)
  assert.equal(l.admit('b', 0), null)
  assert.equal(l.admit('a', 1), null)
  assert.equal(l.admit('c', 1), null)
  assert.equal(l.admit('d', 1), 'max-connections')
  assert.equal(l.releaseWorker(0), 3)
  assert.equal(l.total, 2)
  assert.equal(l.connectionsFrom('a'), 1)
  assert.equal(l.connectionsFrom('b'), 0)
  assert.equal(l.connectionsOf(0), 0)
  assert.equal(l.connectionsOf(1), 2)
  assert.equal(l.releaseWorker(0), 0, 'nothing twice')
  // A late 'connection-closed' from the dead worker changes nothing.
  l.released('a', 0)
  assert.equal(l.total, 2)
  assert.equal(l.admit('a', 0), null)
  assert.equal(l.admit('a', 0), null)
  assert.equal(l.admit('a', 0), 'max-connections-per-ip')
})

test('a close whose IP the worker could not read still gives one connection of that worker back', () => {
  const l = limits(2, 2)
  assert.equal(l.admit('10.0.0.1', 0), null)
  assert.equal(l.admit('10.0.0.2', 1), null)
  l.released(undefined, 0)
  assert.equal(l.total, 1)
  assert.equal(l.connectionsOf(0), 0)
  assert.equal(l.connectionsFrom('10.0.0.1'), 0)
  l.released('10.0.0.9', 1)
  assert.equal(l.total, 0)
  l.released(undefined, 1)
  assert.equal(l.total, 0, 'never below zero')
})

test('connection_creation_rate quotas: an ip entity\'s rate, else the default ip entity\'s, else the flag; 0 refuses', () => {
  const l = limits(1000, 1000, 5)
  l.setCreationRates(new Map([['10.0.0.1', 1], ['10.0.0.9', 0]]), null)
  assert.equal(l.admit('10.0.0.1', 0, 1000), null)
  assert.equal(l.admit('10.0.0.1', 0, 1001), 'max-connection-creation-rate-per-ip', 'its own quota: 1 a second')
  assert.equal(l.creationRateOf('::ffff:10.0.0.1'), 1, 'the same address seen on a dual-stack listener')
  assert.equal(l.admit('10.0.0.9', 0, 1000), 'max-connection-creation-rate-per-ip', 'a quota of 0 refuses every connection')
  for (let i = 0; i < 5; i++) assert.equal(l.admit('10.0.0.2', 0, 1000), null)
  assert.equal(l.admit('10.0.0.2', 0, 1000), 'max-connection-creation-rate-per-ip', 'no quota of its own: the flag')
  l.setCreationRates(new Map([['10.0.0.1', 1]]), 2)
  assert.equal(l.admit('10.0.0.3', 0, 3000), null)
  assert.equal(l.admit('10.0.0.3', 0, 3001), null)
  assert.equal(l.admit('10.0.0.3', 0, 3002), 'max-connection-creation-rate-per-ip', 'the default ip entity: 2 a second')
  assert.equal(l.creationRateOf('10.0.0.1'), 1)
  l.setCreationRates(new Map(), null)
  assert.equal(l.creationRateOf('10.0.0.1'), 5)
  assert.equal(limits(10, 10, 0).creationRateOf('10.0.0.1'), Infinity)
})

test('a connection that moves between workers keeps the totals, and a worker\'s death gives back what it holds now', () => {
  const l = limits(100, 100)
  assert.equal(l.admit('10.0.0.1', 0), null)
  assert.equal(l.admit('10.0.0.1', 0), null)
  l.moved('10.0.0.1', 0, 1)
  assert.equal(l.total, 2)
  assert.equal(l.connectionsFrom('10.0.0.1'), 2)
  assert.equal(l.connectionsOf(0), 1)
  assert.equal(l.connectionsOf(1), 1)
  assert.equal(l.releaseWorker(1), 1)
  assert.equal(l.total, 1)
  assert.equal(l.connectionsOf(0), 1)
})
