// An ObjectStore on S3 (or an S3-compatible endpoint: MinIO, Ceph, s3rver) through @aws-sdk/client-s3. It runs in
// the flusher pool's threads (flusher.ts); nothing else in the broker talks HTTP to S3.
//
// Contracts:
// - One attempt per call (the SDK's own retries are off, maxAttempts 1): the callers retry with back-off
//   (object-store.ts), and a request that failed must reach them quickly as what it was.
// - Every HTTP request gets its own `requestTimeoutMs` (an AbortSignal.timeout covering the response body too);
//   one that runs out fails as kind 'timeout'. A multipart upload is many requests, each with its own timeout.
// - Every failure is an ObjectStoreError whose kind says whether a retry may help (objectStoreErrorOf below).
// - Credentials come from the SDK's default provider chain (environment, shared config/credentials files, SSO,
//   container and instance metadata); none are passed here.
// - Checksums only where S3 requires them (requestChecksumCalculation/responseChecksumValidation
//   'WHEN_REQUIRED'): with the SDK's default it streams bodies with aws-chunked framing and trailing checksums,
//   which some S3-compatible servers (s3rver among them) store verbatim.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart
} from '@aws-sdk/client-s3'
import { ObjectStoreError, type ObjectStore, type ObjectStoreErrorKind, type StoredObject } from './object-store.ts'

/** Bodies up to this size go up in one PutObject; larger ones as a multipart upload. */
export const kSinglePutMaxBytes = 16 * 1024 * 1024
/** Part size of a multipart upload (S3's minimum is 5 MiB for every part but the last). */
export const kMultipartPartBytes = 8 * 1024 * 1024
/** Parts of one multipart upload in flight at once. */
export const kMultipartConcurrency = 4
/** DeleteObjects takes at most this many keys per request (S3's limit). */
export const kDeleteBatchKeys = 1000

export interface S3ObjectStoreOptions {
  readonly bucket: string
  readonly region: string
  /** A custom endpoint, addressed path-style (`http://host:port/bucket/key`); null = AWS's endpoint for the region. */
  readonly endpoint: string | null
  /** Each HTTP request not answered (body included) in this long is abandoned: ObjectStoreError 'timeout'. */
  readonly requestTimeoutMs: number
  /** MaxKeys of each ListObjectsV2 page (S3's default and maximum: 1000); smaller only to test paging. */
  readonly listPageSize?: number
}

export class S3ObjectStore implements ObjectStore {
  readonly bucket: string
  readonly client: S3Client
  readonly #requestTimeoutMs: number
  readonly #listPageSize: number | undefined

  constructor (options: S3ObjectStoreOptions) {
    this.bucket = options.bucket
    this.#requestTimeoutMs = options.requestTimeoutMs
    this.#listPageSize = options.listPageSize
    this.client = new S3Client({
      region: options.region,
      ...(options.endpoint === null ? {} : { endpoint: options.endpoint, forcePathStyle: true }),
      maxAttempts: 1,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED'
    })
  }

  /**
   * The number of S3 requests that put(key, body) makes when it succeeds: 1 for a PutObject, else one per part
   * plus the create and the complete (what S3 bills as PUT-class requests).
   */
  static putRequestCount (bodyLength: number): number {
    return bodyLength <= kSinglePutMaxBytes ? 1 : Math.ceil(bodyLength / kMultipartPartBytes) + 2
  }

  async put (key: string, body: Buffer): Promise<void> {
    if (body.length <= kSinglePutMaxBytes) {
      await this.#send((client, signal) => client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: body.length }), { abortSignal: signal }))
      return
    }
    await this.#putMultipart(key, body)
  }

  async #putMultipart (key: string, body: Buffer): Promise<void> {
    const created = await this.#send((client, signal) => client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal }))
    const uploadId = created.UploadId
    if (uploadId === undefined) throw new ObjectStoreError('other', `CreateMultipartUpload of ${key} returned no UploadId`)
    const partCount = Math.ceil(body.length / kMultipartPartBytes)
    const parts: CompletedPart[] = new Array(partCount)
    let next = 0
    // kMultipartConcurrency lanes, each taking the next part until none is left; the first failure stops the
    // lanes from starting new parts (the ones in flight finish or fail on their own).
    let failure: unknown = null
    const lane = async (): Promise<void> => {
      while (failure === null && next < partCount) {
        const index = next++
        const start = index * kMultipartPartBytes
        const part = body.subarray(start, Math.min(body.length, start + kMultipartPartBytes))
        try {
          const uploaded = await this.#send((client, signal) => client.send(new UploadPartCommand({
            Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: index + 1, Body: part, ContentLength: part.length
          }), { abortSignal: signal }))
          parts[index] = { ETag: uploaded.ETag, PartNumber: index + 1 }
        } catch (error) {
          if (failure === null) failure = error
        }
      }
    }
    const lanes: Array<Promise<void>> = []
    for (let i = 0; i < Math.min(kMultipartConcurrency, partCount); i++) lanes.push(lane())
    await Promise.all(lanes)
    try {
      if (failure !== null) throw failure
      await this.#send((client, signal) => client.send(new CompleteMultipartUploadCommand({
        Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts }
      }), { abortSignal: signal }))
    } catch (error) {
      // Best effort: an upload left behind costs storage until abortStaleMultipartUploads (or a bucket lifecycle
      // rule) removes it, and the caller's retry starts a new one anyway.
      await this.#abortUpload(key, uploadId).catch(() => {})
      throw error
    }
  }

  #abortUpload (key: string, uploadId: string): Promise<unknown> {
    return this.#send((client, signal) => client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }), { abortSignal: signal }))
  }

  async get (key: string, range?: { readonly start: number, readonly end: number }): Promise<Buffer> {
    if (range !== undefined && range.end <= range.start) return Buffer.alloc(0)
    return await this.#send(async (client, signal) => {
      const response = await client.send(new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        // HTTP ranges are inclusive at both ends.
        Range: range === undefined ? undefined : `bytes=${range.start}-${range.end - 1}`
      }), { abortSignal: signal })
      return await collectBody(response.Body as AsyncIterable<Uint8Array> & { destroy?: (error?: Error) => void } | undefined, response.ContentLength, signal)
    })
  }

  async list (prefix: string): Promise<StoredObject[]> {
    const found: StoredObject[] = []
    let token: string | undefined
    do {
      const page = await this.#send((client, signal) => client.send(new ListObjectsV2Command({
        Bucket: this.bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: this.#listPageSize
      }), { abortSignal: signal }))
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue
        found.push({ key: object.Key, size: object.Size ?? 0, lastModifiedMs: object.LastModified?.getTime() ?? 0 })
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined
    } while (token !== undefined)
    return found
  }

  async delete (keys: readonly string[]): Promise<void> {
    for (let start = 0; start < keys.length; start += kDeleteBatchKeys) {
      const batch = keys.slice(start, start + kDeleteBatchKeys).map((key) => ({ Key: key }))
      const result = await this.#send((client, signal) => client.send(new DeleteObjectsCommand({
        Bucket: this.bucket, Delete: { Objects: batch, Quiet: true }
      }), { abortSignal: signal }))
      // A missing key is no error in S3 (deletes succeed whether or not the object was there); what Errors
      // lists is a key that could not be deleted (AccessDenied, InternalError, ...).
      const refused = result.Errors?.[0]
      if (refused !== undefined) {
        throw new ObjectStoreError(kindOfCode(refused.Code ?? '', 0), `DeleteObjects: ${result.Errors?.length} of ${batch.length} keys not deleted, first ${refused.Key}: ${refused.Code} ${refused.Message ?? ''}`.trimEnd())
      }
    }
  }

  /**
   * Aborts multipart uploads under `prefix` started more than `olderThanMs` ago (left behind by a crash in the
   * middle of an upload); returns how many were aborted. A server without ListMultipartUploads (s3rver answers
   * NotImplemented) has none to abort: 0.
   */
  async abortStaleMultipartUploads (prefix: string, olderThanMs: number): Promise<number> {
    const cutoff = Date.now() - olderThanMs
    const stale: Array<{ key: string, uploadId: string }> = []
    let keyMarker: string | undefined
    let uploadIdMarker: string | undefined
    for (;;) {
      let page
      try {
        page = await this.#send((client, signal) => client.send(new ListMultipartUploadsCommand({
          Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker
        }), { abortSignal: signal }))
      } catch (error) {
        if ((error as { cause?: { name?: string } }).cause?.name === 'NotImplemented') return 0
        throw error
      }
      for (const upload of page.Uploads ?? []) {
        if (upload.Key === undefined || upload.UploadId === undefined) continue
        if ((upload.Initiated?.getTime() ?? 0) < cutoff) stale.push({ key: upload.Key, uploadId: upload.UploadId })
      }
      if (page.IsTruncated !== true) break
      keyMarker = page.NextKeyMarker
      uploadIdMarker = page.NextUploadIdMarker
    }
    for (const upload of stale) {
      try {
        await this.#abortUpload(upload.key, upload.uploadId)
      } catch (error) {
        // Gone meanwhile (completed or aborted by someone else): nothing left to abort.
        if ((error as ObjectStoreError).kind !== 'not-found') throw error
      }
    }
    return stale.length
  }

  /** Releases the client's sockets. */
  close (): void {
    this.client.destroy()
  }

  /** One request under its own timeout; any failure comes out as an ObjectStoreError. */
  async #send<T> (request: (client: S3Client, signal: AbortSignal) => Promise<T>): Promise<T> {
    const signal = AbortSignal.timeout(this.#requestTimeoutMs)
    try {
      return await request(this.client, signal)
    } catch (error) {
      if (signal.aborted) throw withCause(new ObjectStoreError('timeout', `S3 request not answered within ${this.#requestTimeoutMs} ms`), error)
      throw objectStoreErrorOf(error)
    }
  }
}

/** The response body, whole, in one Buffer that owns its ArrayBuffer (so it can be transferred to another thread). */
async function collectBody (body: AsyncIterable<Uint8Array> & { destroy?: (error?: Error) => void } | undefined, contentLength: number | undefined, signal: AbortSignal): Promise<Buffer> {
  if (body === undefined) return Buffer.alloc(0)
  // The SDK stops watching the signal once the response has arrived; a server that stalls in the middle of the
  // body must fail as a timeout too.
  const onAbort = (): void => body.destroy?.(new Error('body not received in time'))
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    if (contentLength !== undefined && contentLength >= 0) {
      const whole = Buffer.allocUnsafeSlow(contentLength)
      let filled = 0
      for await (const chunk of body) {
        if (filled + chunk.length > contentLength) throw new ObjectStoreError('other', `S3 sent more than its Content-Length ${contentLength}`)
        whole.set(chunk, filled)
        filled += chunk.length
      }
      if (filled !== contentLength) throw new ObjectStoreError('unavailable', `S3 body ended after ${filled} of ${contentLength} bytes`)
      return whole
    }
    const chunks: Uint8Array[] = []
    let total = 0
    for await (const chunk of body) {
      chunks.push(chunk)
      total += chunk.length
    }
    const whole = Buffer.allocUnsafeSlow(total)
    let at = 0
    for (const chunk of chunks) {
      whole.set(chunk, at)
      at += chunk.length
    }
    return whole
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

const kNetworkErrorCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET'])

/** What kind of failure an error code of S3 (an XML `<Code>`) is, given the HTTP status (0 when unknown). */
function kindOfCode (code: string, status: number): ObjectStoreErrorKind {
  switch (code) {
    case 'NoSuchKey':
    case 'NotFound':
      return 'not-found'
    case 'NoSuchBucket':
      return 'no-bucket'
    case 'AccessDenied':
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
    case 'ExpiredToken':
    case 'InvalidToken':
    case 'AllAccessDisabled':
      return 'denied'
    case 'SlowDown':
    case 'Throttling':
    case 'ThrottlingException':
    case 'RequestLimitExceeded':
    case 'TooManyRequestsException':
      return 'throttled'
    case 'RequestTimeout':
    case 'TimeoutError':
    case 'AbortError':
      return 'timeout'
    case 'InternalError':
    case 'ServiceUnavailable':
      return status === 503 ? 'throttled' : 'unavailable'
  }
  if (status === 404) return 'not-found'
  if (status === 403) return 'denied'
  if (status === 503 || status === 429) return 'throttled'
  if (status >= 500) return 'unavailable'
  return 'other'
}

/**
 * An SDK (or network) error as an ObjectStoreError: NoSuchKey/404 'not-found', NoSuchBucket 'no-bucket',
 * AccessDenied/403/InvalidAccessKeyId/SignatureDoesNotMatch 'denied', SlowDown/503/429/Throttling 'throttled',
 * other 5xx and failed connections (refused, reset, hang up, broken pipe) 'unavailable', aborts and timeouts
 * 'timeout', anything else 'other'. The original error is kept as `cause`.
 */
export function objectStoreErrorOf (error: unknown): ObjectStoreError {
  if (error instanceof ObjectStoreError) return error
  const failure = (error ?? {}) as { name?: string, code?: string, message?: string, $metadata?: { httpStatusCode?: number } }
  const name = typeof failure.name === 'string' ? failure.name : ''
  const message = typeof failure.message === 'string' && failure.message !== '' ? failure.message : String(error)
  const status = failure.$metadata?.httpStatusCode ?? 0
  let kind: ObjectStoreErrorKind
  if (typeof failure.code === 'string' && kNetworkErrorCodes.has(failure.code)) kind = 'unavailable'
  else if (/socket hang up|ECONNRESET|ECONNREFUSED|EPIPE/.test(message)) kind = 'unavailable'
  else kind = kindOfCode(name, status)
  return withCause(new ObjectStoreError(kind, `S3 ${name !== '' && name !== 'Error' ? `${name}: ` : ''}${message}${status !== 0 ? ` (HTTP ${status})` : ''}`), error)
}

function withCause (error: ObjectStoreError, cause: unknown): ObjectStoreError {
  Object.defineProperty(error, 'cause', { value: cause, enumerable: false, configurable: true, writable: true })
  return error
}
