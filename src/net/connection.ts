// One client connection, owned by the worker the acceptor handed the socket to.
//
// Framing: int32 size, then the request (header + body). A size that is negative, below the smallest header or
// above --max-frame-bytes, or a request we cannot decode, closes this connection with a log line; nothing else
// is affected. Requests on a connection are handled concurrently, but answered strictly in request order: each
// request takes the next slot of a queue, and slots are written to the socket from the head as they complete.
// A request that needs no answer (Produce with acks=0) still takes a slot so that order holds around it.

import type { Socket } from 'node:net'
import { Reader, ProtocolDecodeError } from '../protocol/reader.ts'
import { Writer } from '../protocol/writer.ts'
import { codecFor } from '../protocol/codec.ts'
import { requestHeader as requestHeaderDef } from '../protocol/messages/headers.ts'
import { requestHeaderVersion, responseHeaderVersion, type ApiEntry } from '../protocol/apis.ts'
import type { Shard } from '../shard/shard.ts'
import type { Handler } from '../handlers/handler.ts'

/** A handler's way of saying the request gets no response (acks=0 produce). */
export const kNoResponse: unique symbol = Symbol('shoal.noResponse')

export interface RequestContext {
  readonly shard: Shard
  readonly connection: Connection
  readonly apiKey: number
  readonly apiVersion: number
  readonly correlationId: number
  readonly clientId: string | null
}

/** Smallest request: size excluded, int16 key + int16 version + int32 correlation id. */
const kMinimumRequestBytes = 8
/** Requests being handled at once on one connection before we stop reading from the socket. */
const kMaxInFlight = 128

interface Slot {
  chunks: Buffer[] | null
  done: boolean
}

export class Connection {
  readonly socket: Socket
  readonly shard: Shard
  readonly remote: string
  #buffered: Buffer[]
  #bufferedBytes: number
  #frameSize: number
  #slots: Slot[]
  #head: number
  #inFlight: number
  #closed: boolean
  #readPaused: boolean

  constructor (socket: Socket, shard: Shard) {
    this.socket = socket
    this.shard = shard
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`
    this.#buffered = []
    this.#bufferedBytes = 0
    this.#frameSize = -1
    this.#slots = []
    this.#head = 0
    this.#inFlight = 0
    this.#closed = false
    this.#readPaused = false
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', (error) => this.shard.logger.debug(`connection ${this.remote}: ${error.message}`))
    socket.on('close', () => this.#onClose())
    socket.on('drain', () => this.#maybeResume())
    socket.resume()
  }

  get closed (): boolean {
    return this.#closed
  }

  close (reason: string): void {
    if (this.#closed) return
    this.shard.logger.warn(`closing connection ${this.remote}: ${reason}`)
    this.#closed = true
    this.socket.destroy()
  }

  #onClose (): void {
    this.#closed = true
    this.shard.connectionClosed(this)
  }

  #onData (chunk: Buffer): void {
    this.#buffered.push(chunk)
    this.#bufferedBytes += chunk.length
    while (!this.#closed) {
      if (this.#frameSize === -1) {
        if (this.#bufferedBytes < 4) return
        const size = this.#peekInt32()
        if (size < kMinimumRequestBytes || size > this.shard.config.maxFrameBytes) {
          this.close(`bad frame size ${size} (limit ${this.shard.config.maxFrameBytes})`)
          return
        }
        this.#frameSize = size
      }
      if (this.#bufferedBytes < 4 + this.#frameSize) return
      const frame = this.#take(4 + this.#frameSize).subarray(4)
      this.#frameSize = -1
      this.#handleFrame(frame)
    }
  }

  #peekInt32 (): number {
    const first = this.#buffered[0]
    if (first.length >= 4) return first.readInt32BE(0)
    const head = Buffer.concat(this.#buffered, Math.min(this.#bufferedBytes, 16))
    return head.readInt32BE(0)
  }

  /** Removes `bytes` from the front of the buffered chunks: a view when one chunk holds them all. */
  #take (bytes: number): Buffer {
    const first = this.#buffered[0]
    let out: Buffer
    if (first.length >= bytes) {
      out = first.subarray(0, bytes)
      if (first.length === bytes) this.#buffered.shift()
      else this.#buffered[0] = first.subarray(bytes)
    } else {
      out = Buffer.allocUnsafe(bytes)
      let filled = 0
      while (filled < bytes) {
        const chunk = this.#buffered[0]
        const n = Math.min(chunk.length, bytes - filled)
        chunk.copy(out, filled, 0, n)
        filled += n
        if (n === chunk.length) this.#buffered.shift()
        else this.#buffered[0] = chunk.subarray(n)
      }
    }
    this.#bufferedBytes -= bytes
    return out
  }

  #handleFrame (frame: Buffer): void {
    const apiKey = frame.readInt16BE(0)
    const apiVersion = frame.readInt16BE(2)
    const handler = this.shard.handlers.get(apiKey)
    if (handler === undefined) {
      this.close(`unknown or unimplemented API key ${apiKey}`)
      return
    }
    const api = handler.api
    const reader = new Reader(frame)
    let header: { correlationId: number, clientId: string | null }
    let request: any
    try {
      if (apiVersion < handler.minVersion || apiVersion > handler.maxVersion) {
        this.#answerUnsupported(handler, apiVersion, frame.readInt32BE(4))
        return
      }
      header = codecFor(requestHeaderDef, requestHeaderVersion(api, apiVersion)).decode(reader)
      request = api.request(apiVersion).decode(reader)
    } catch (error) {
      if (error instanceof ProtocolDecodeError || error instanceof RangeError) {
        this.close(`undecodable ${api.name} v${apiVersion} request: ${(error as Error).message}`)
        return
      }
      throw error
    }
    const slot: Slot = { chunks: null, done: false }
    this.#slots.push(slot)
    this.#inFlight++
    if (this.#inFlight >= kMaxInFlight) this.#pauseReading()
    const context: RequestContext = {
      shard: this.shard,
      connection: this,
      apiKey,
      apiVersion,
      correlationId: header.correlationId,
      clientId: header.clientId
    }
    let result
    try {
      result = handler.handle(context, request)
    } catch (error) {
      this.#failed(api, apiVersion, error as Error)
      return
    }
    if (result instanceof Promise) {
      result.then(
        (response) => this.#complete(slot, api, context, response),
        (error: Error) => this.#failed(api, apiVersion, error)
      )
    } else {
      this.#complete(slot, api, context, result)
    }
  }

  #failed (api: ApiEntry, apiVersion: number, error: Error): void {
    // A handler throwing is a bug on our side: the answer cannot be in order any more, so the connection goes.
    this.shard.logger.error(`${api.name} v${apiVersion} handler failed: ${error.stack ?? error.message}`)
    this.close('internal error')
  }

  /** Kafka answers an ApiVersions it does not know with v0 and UNSUPPORTED_VERSION; other APIs get their error. */
  #answerUnsupported (handler: Handler, apiVersion: number, correlationId: number): void {
    const api = handler.api
    const response = handler.unsupported?.(this.shard) ?? null
    // The error can only be written in a version the definition knows.
    const version = api.key === 18 ? 0 : apiVersion
    if (response === null || !api.hasVersion(version)) {
      this.close(`unsupported ${api.name} version ${apiVersion}`)
      return
    }
    const slot: Slot = { chunks: null, done: false }
    this.#slots.push(slot)
    this.#inFlight++
    const writer = new Writer()
    writer.startFrame()
    writer.int32(correlationId)
    if (api.key !== 18 && responseHeaderVersion(api, version) === 1) writer.unsignedVarint(0)
    try {
      api.response(version).encode(writer, response)
    } catch {
      this.close(`unsupported ${api.name} version ${apiVersion}`)
      return
    }
    slot.chunks = writer.finishFrame()
    slot.done = true
    this.#inFlight--
    this.#flush()
  }

  #complete (slot: Slot, api: ApiEntry, context: RequestContext, response: unknown): void {
    if (response !== kNoResponse) {
      const writer = new Writer()
      writer.startFrame()
      writer.int32(context.correlationId)
      if (responseHeaderVersion(api, context.apiVersion) === 1) writer.unsignedVarint(0)
      api.response(context.apiVersion).encode(writer, response)
      slot.chunks = writer.finishFrame()
    }
    slot.done = true
    this.#inFlight--
    this.#flush()
  }

  #flush (): void {
    if (this.#closed) return
    const socket = this.socket
    let corked = false
    while (this.#head < this.#slots.length && this.#slots[this.#head].done) {
      const chunks = this.#slots[this.#head].chunks
      this.#slots[this.#head++] = undefined as unknown as Slot
      if (chunks === null) continue
      if (!corked) { socket.cork(); corked = true }
      for (let i = 0; i < chunks.length; i++) socket.write(chunks[i])
    }
    if (corked) socket.uncork()
    if (this.#head === this.#slots.length) {
      this.#slots.length = 0
      this.#head = 0
    } else if (this.#head > 256) {
      this.#slots.splice(0, this.#head)
      this.#head = 0
    }
    if (socket.writableNeedDrain) this.#pauseReading()
    else this.#maybeResume()
  }

  #pauseReading (): void {
    if (this.#readPaused) return
    this.#readPaused = true
    this.socket.pause()
  }

  #maybeResume (): void {
    if (!this.#readPaused || this.#closed) return
    if (this.#inFlight < kMaxInFlight / 2 && !this.socket.writableNeedDrain) {
      this.#readPaused = false
      this.socket.resume()
    }
  }
}
