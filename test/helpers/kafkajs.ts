// kafkajs for the tests, with one fix to its request queue. Import kafkajs from here, never from 'kafkajs'.
//
// kafkajs 2.2.4 (the last release; tulios/kafkajs#1751, fixes still open upstream as #1755 and #1768) arms a
// timer after every response: RequestQueue.scheduleCheckPendingRequests computes `throttledUntil - Date.now()`,
// and `throttledUntil` is -1 until a broker throttles the client, so with no request pending the delay is
// -Date.now(). Node 24+ prints `TimeoutNegativeWarning: -1796228266625 is a negative number` (and runs the timer
// after 1 ms, to look at an empty queue). With nothing pending and no throttle in force there is nothing to
// check: a request queued later (push) schedules its own check, and one held back by the in-flight limit is sent
// when a response frees a slot (checkPendingRequests). The broker is not involved: Shoal throttles only clients past a client quota (src/quota/), which
// sets throttledUntil to a real time and so never makes the delay negative.
import { createRequire } from 'node:module'
import kafkajs from 'kafkajs'

interface RequestQueueLike {
  pending: unknown[]
  throttledUntil: number
}

const require = createRequire(import.meta.url)
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: { scheduleCheckPendingRequests (this: RequestQueueLike): void } }
const schedule = RequestQueue.prototype.scheduleCheckPendingRequests
if (typeof schedule !== 'function') throw new Error('kafkajs RequestQueue.scheduleCheckPendingRequests is gone: review test/helpers/kafkajs.ts')
RequestQueue.prototype.scheduleCheckPendingRequests = function (this: RequestQueueLike): void {
  if (this.pending.length === 0 && this.throttledUntil <= Date.now()) return
  schedule.call(this)
}

export default kafkajs
export const { Kafka, logLevel, CompressionTypes, CompressionCodecs } = kafkajs
