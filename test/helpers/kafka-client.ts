// A minimal Kafka client for tests, built on the project's own codecs: one TCP connection, requests encoded
// with `api.request(version)` behind a request header of `requestHeaderVersion`, responses matched to their
// request by correlation id and decoded with `api.response(version)` behind a response header of
// `responseHeaderVersion`. `sendBytes` writes anything at all, for hostile input. No retries, no metadata
// cache, no batching: tests say exactly what goes on the wire.
//
//   const client = await KafkaClient.connect('127.0.0.1', port)
//   const response = await client.request(3, 12, { topics: null, allowAutoTopicCreation: false })
//   client.close()
//
// A few helpers at the bottom (createTopic, produce, fetchRecords, initProducerId) wrap the requests the
// tests send most.
import { connect, type Socket } from 'node:net'
import { apiByKey, requestHeaderVersion, responseHeaderVersion, type ApiEntry } from '../../src/protocol/apis.ts'
import { codecFor } from '../../src/protocol/codec.ts'
import { requestHeader } from '../../src/protocol/messages/headers.ts'
import { Reader } from '../../src/protocol/reader.ts'
import { Writer } from '../../src/protocol/writer.ts'
import { buildRecordBatch, nextBatchEnd, parseRecords, type BuildBatchOptions } from '../../src/protocol/record-batch.ts'

interface Pending {
  readonly api: ApiEntry
  readonly responseVersion: number
  resolve (value: any): void
  reject (error: Error): void
}

export interface RequestOptions {
  /** Version to decode the response with; the request's by default (ApiVersions errors come back in v0). */
  responseVersion?: number
  /** The request gets no response (Produce with acks=0): resolve with undefined once it is written. */
  noResponse?: boolean
}

export class KafkaClient {
  readonly socket: Socket
  /** Resolves when the connection is closed, by either side. */
  readonly closed: Promise<void>
  #nextCorrelationId = 1
  readonly #pending = new Map<number, Pending>()
  #buffer: Buffer = Buffer.alloc(0)
  #isClosed = false
  readonly #clientId: string

  private constructor (socket: Socket, clientId: string) {
    this.socket = socket
    this.#clientId = clientId
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.#isClosed = true
      for (const pending of this.#pending.values()) pending.reject(new Error('connection closed'))
      this.#pending.clear()
      resolve()
    }))
    socket.on('error', () => {}) // reported through `closed` and rejected requests
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
  }

  static connect (host: string, port: number, clientId = 'shoal-test'): Promise<KafkaClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true })
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve(new KafkaClient(socket, clientId))
      })
    })
  }

  /** Connects to a `host:port` bootstrap string. */
  static to (bootstrap: string, clientId?: string): Promise<KafkaClient> {
    const colon = bootstrap.lastIndexOf(':')
    return KafkaClient.connect(bootstrap.slice(0, colon), Number(bootstrap.slice(colon + 1)), clientId)
  }

  get isClosed (): boolean {
    return this.#isClosed
  }

  /**
   * Sends one request and resolves with its decoded response (rejects when the connection closes first).
   * `body` is an object for the codec, or a Buffer written as the body verbatim (for versions the codec lacks
   * or deliberately broken bodies); the header is always well formed.
   */
  request<T = any> (apiKey: number, version: number, body: object | Buffer, options: RequestOptions = {}): Promise<T> {
    const api = apiByKey(apiKey)
    if (api === undefined) throw new RangeError(`unknown API key ${apiKey}`)
    if (this.#isClosed) return Promise.reject(new Error('connection closed'))
    const correlationId = this.#nextCorrelationId++
    const writer = new Writer()
    writer.startFrame()
    codecFor(requestHeader, requestHeaderVersion(api, version)).encode(writer, {
      requestApiKey: apiKey, requestApiVersion: version, correlationId, clientId: this.#clientId
    })
    if (Buffer.isBuffer(body)) writer.raw(body)
    else api.request(version).encode(writer, body)
    const chunks = writer.finishFrame()
    return new Promise<T>((resolve, reject) => {
      if (options.noResponse === true) {
        for (let i = 0; i < chunks.length; i++) this.socket.write(chunks[i], i === chunks.length - 1 ? () => resolve(undefined as T) : undefined)
        return
      }
      this.#pending.set(correlationId, { api, responseVersion: options.responseVersion ?? version, resolve, reject })
      for (const chunk of chunks) this.socket.write(chunk)
    })
  }

  /**
   * Encodes a request and registers for its response without writing it: the caller writes `bytes` itself
   * (in pieces, say, to leave a frame half sent), in the order of the requests prepared.
   */
  prepare<T = any> (apiKey: number, version: number, body: object): { bytes: Buffer, response: Promise<T> } {
    const api = apiByKey(apiKey)
    if (api === undefined) throw new RangeError(`unknown API key ${apiKey}`)
    const correlationId = this.#nextCorrelationId++
    const writer = new Writer()
    writer.startFrame()
    codecFor(requestHeader, requestHeaderVersion(api, version)).encode(writer, {
      requestApiKey: apiKey, requestApiVersion: version, correlationId, clientId: this.#clientId
    })
    api.request(version).encode(writer, body)
    const bytes = Buffer.concat(writer.finishFrame())
    const response = new Promise<T>((resolve, reject) => {
      if (this.#isClosed) reject(new Error('connection closed'))
      else this.#pending.set(correlationId, { api, responseVersion: version, resolve, reject })
    })
    return { bytes, response }
  }

  /** Writes raw bytes (no framing added). */
  sendBytes (bytes: Buffer): void {
    this.socket.write(bytes)
  }

  close (): void {
    this.socket.destroy()
  }

  #onData (chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
    while (this.#buffer.length >= 4) {
      const size = this.#buffer.readInt32BE(0)
      if (this.#buffer.length < 4 + size) return
      const frame = this.#buffer.subarray(4, 4 + size)
      this.#buffer = this.#buffer.subarray(4 + size)
      this.#onFrame(frame)
    }
  }

  #onFrame (frame: Buffer): void {
    const correlationId = frame.readInt32BE(0)
    const pending = this.#pending.get(correlationId)
    // A response nobody asked for (or an answer to bytes sent with sendBytes): the stream cannot be trusted.
    if (pending === undefined) {
      this.socket.destroy(new Error(`response with unknown correlation id ${correlationId}`))
      return
    }
    this.#pending.delete(correlationId)
    try {
      const reader = new Reader(frame, 4)
      if (responseHeaderVersion(pending.api, pending.responseVersion) === 1) {
        // Response header v1: tagged fields after the correlation id (none that we read).
        for (let tags = reader.unsignedVarint(); tags > 0; tags--) {
          reader.unsignedVarint()
          reader.skip(reader.unsignedVarint())
        }
      }
      const response = pending.api.response(pending.responseVersion).decode(reader)
      if (reader.remaining !== 0) throw new Error(`${reader.remaining} bytes left after the ${pending.api.name} response`)
      pending.resolve(response)
    } catch (error) {
      pending.reject(error as Error)
    }
  }
}

// ---- helpers for the requests tests send most ------------------------------------------------------------

export const kProduceVersion = 9
export const kFetchVersion = 12

export async function createTopic (client: KafkaClient, name: string, partitions: number): Promise<void> {
  const response = await client.request(19, 7, { topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false })
  const code = response.topics[0].errorCode
  if (code !== 0) throw new Error(`CreateTopics ${name}: error ${code} ${response.topics[0].errorMessage ?? ''}`)
}

export interface ProduceResult {
  errorCode: number
  baseOffset: number
  errorMessage: string | null
}

/**
 * Produces one record batch (a Buffer, or values to build one from) to one partition; acks -1 by default. With
 * acks=0 there is no answer: resolves once written, with baseOffset -1.
 */
export async function produce (client: KafkaClient, topic: string, partition: number, records: Buffer | string[],
  options: { acks?: number, batch?: BuildBatchOptions } = {}): Promise<ProduceResult> {
  const batch = Buffer.isBuffer(records)
    ? records
    : buildRecordBatch(records.map((value) => ({ key: null, value: Buffer.from(value) })), options.batch)
  const acks = options.acks ?? -1
  const response = await client.request(0, kProduceVersion, {
    transactionalId: null,
    acks,
    timeoutMs: 30_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }]
  }, { noResponse: acks === 0 })
  if (acks === 0) return { errorCode: 0, baseOffset: -1, errorMessage: null }
  const p = response.responses[0].partitionResponses[0]
  return { errorCode: p.errorCode, baseOffset: p.baseOffset, errorMessage: p.errorMessage }
}

export interface FetchedRecord {
  offset: number
  value: string | null
}

/** Reads a partition from `fromOffset` up to its high watermark at the time of the first fetch. */
export async function fetchRecords (client: KafkaClient, topic: string, partition: number, fromOffset = 0): Promise<FetchedRecord[]> {
  const out: FetchedRecord[] = []
  let offset = fromOffset
  let highWatermark = Infinity
  while (offset < highWatermark) {
    const response = await client.request(1, kFetchVersion, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 4 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 4 << 20, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 }] }],
      forgottenTopicsData: [], rackId: ''
    })
    const data = response.responses[0].partitions[0]
    if (data.errorCode !== 0) throw new Error(`Fetch ${topic}-${partition} at ${offset}: error ${data.errorCode}`)
    if (highWatermark === Infinity) highWatermark = data.highWatermark
    const records: Buffer | null = data.records
    if (records === null || records.length === 0) break
    let position = 0
    for (;;) {
      const end = nextBatchEnd(records, position, records.length)
      if (end < 0) break
      for (const record of parseRecords(records.subarray(position, end))) {
        if (record.offset >= offset) out.push({ offset: record.offset, value: record.value === null ? null : record.value.toString() })
      }
      position = end
    }
    const last = out.at(-1)
    if (last === undefined || last.offset + 1 <= offset) break
    offset = last.offset + 1
  }
  return out
}

export async function initProducerId (client: KafkaClient): Promise<{ producerId: number, producerEpoch: number }> {
  const response = await client.request(22, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 })
  if (response.errorCode !== 0) throw new Error(`InitProducerId: error ${response.errorCode}`)
  return { producerId: response.producerId, producerEpoch: response.producerEpoch }
}
