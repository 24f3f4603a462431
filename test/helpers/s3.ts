// s3rver (a real S3 HTTP server, files in a temp directory) in this process on 127.0.0.1 and a free port, for
// the S3 tests: the store and the flusher pool talk to it directly; broker child processes get `endpoint` as
// --s3-endpoint and `env` (credentials the SDK's default chain picks up, and a region) in their environment.
// `client` is an SDK client for the test itself to look at or plant objects.
//
// The client is set up the way s3rver needs (and src/storage/s3-object-store.ts does the same): path-style
// addressing, and checksums only where S3 requires them; otherwise the SDK streams bodies with aws-chunked
// framing, which s3rver stores verbatim.
//
// s3rver 3.7 makes ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node 17 and later) leaves out
// unless node runs with --openssl-legacy-provider: every truncated listing (more keys than MaxKeys) answers 500.
// The token only has to come back unchanged, so where DES is missing this helper gives s3rver a stand-in
// "cipher" for 'des' that leaves the text as it is (installDesStandIn); nothing else in a test uses DES.
// Its file store also removes a key's directory when it deletes the directory's last object, racing with the
// other deletes of a DeleteObjects request (which it runs at once) and with PUTs into that directory: ENOENT,
// answered 500. The helper's s3rver keeps empty directories instead (keepDirectoriesOnDelete); listings are
// unchanged, since s3rver lists files, not directories.
import crypto from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'

/** The part of s3rver (untyped CommonJS) the helper uses. */
export interface S3rverServer {
  run (): Promise<AddressInfo>
  close (): Promise<void>
  readonly httpServer: Server
  readonly store: S3rverFileStore
}

interface S3rverFileStore {
  getResourcePath (bucket: string, key: string, resource: string): string
  deleteObject (bucket: string, key: string): Promise<void>
}

interface S3rverConstructor {
  new (options: { address: string, port: number, silent: boolean, directory: string, configureBuckets: Array<{ name: string }> }): S3rverServer
}

const require = createRequire(import.meta.url)
const S3rver = require('s3rver') as S3rverConstructor

/** A Cipher/Decipher for s3rver's continuation tokens that passes bytes through (see the header). */
function passThroughCipher (): { update (data: string | Buffer, encoding?: BufferEncoding): Buffer, final (): Buffer } {
  return {
    update: (data, encoding) => (typeof data === 'string' ? Buffer.from(data, encoding ?? 'utf8') : Buffer.from(data)),
    final: () => Buffer.alloc(0)
  }
}

function keepDirectoriesOnDelete (store: S3rverFileStore): void {
  store.deleteObject = async (bucket, key) => {
    for (const resource of ['object', 'object.md5', 'metadata.json']) {
      await rm(store.getResourcePath(bucket, key, resource), { force: true })
    }
  }
}

let desChecked = false
function installDesStandIn (): void {
  if (desChecked) return
  desChecked = true
  try {
    crypto.createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8))
    return
  } catch {}
  // s3rver looks these up on the crypto module at each call (`crypto.createCipheriv(...)`), so replacing the
  // module's properties reaches it.
  const { createCipheriv, createDecipheriv } = crypto
  crypto.createCipheriv = ((algorithm: string, ...rest: unknown[]) => algorithm === 'des'
    ? passThroughCipher()
    : (createCipheriv as (...args: unknown[]) => unknown)(algorithm, ...rest)) as typeof createCipheriv
  crypto.createDecipheriv = ((algorithm: string, ...rest: unknown[]) => algorithm === 'des'
    ? passThroughCipher()
    : (createDecipheriv as (...args: unknown[]) => unknown)(algorithm, ...rest)) as typeof createDecipheriv
}

export interface TestS3 {
  /** `http://127.0.0.1:PORT`, for --s3-endpoint or S3ObjectStore's `endpoint`. */
  readonly endpoint: string
  readonly bucket: string
  /** s3rver's files (removed by close()). */
  readonly directory: string
  readonly server: S3rverServer
  /** Credentials and region for the SDK's default provider chain (broker child processes, flusher threads). */
  readonly env: Record<string, string>
  readonly client: S3Client
  /** Every key under `prefix` (all of them without one), in key order. */
  listKeys (prefix?: string): Promise<string[]>
  close (): Promise<void>
}

export const kS3Credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const

export async function startS3 (options: { bucket?: string } = {}): Promise<TestS3> {
  installDesStandIn()
  const bucket = options.bucket ?? 'shoal-test'
  const directory = mkdtempSync(join(tmpdir(), 'shoal-s3rver-'))
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] })
  keepDirectoriesOnDelete(server.store)
  const address = await server.run()
  const endpoint = `http://127.0.0.1:${address.port}`
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: kS3Credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED'
  })
  const env = { AWS_ACCESS_KEY_ID: kS3Credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: kS3Credentials.secretAccessKey, AWS_REGION: 'us-east-1' }
  let closed = false
  return {
    endpoint,
    bucket,
    directory,
    server,
    env,
    client,
    async listKeys (prefix = '') {
      const keys: string[] = []
      let token: string | undefined
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }))
        for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key)
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined
      } while (token !== undefined)
      return keys
    },
    async close () {
      if (closed) return
      closed = true
      client.destroy()
      // Connections other clients keep alive would hold close() open.
      server.httpServer.closeAllConnections()
      await server.close()
      rmSync(directory, { recursive: true, force: true })
    }
  }
}
