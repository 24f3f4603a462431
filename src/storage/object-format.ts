// The S3 objects that hold partition data, and their keys.
//
// Key layout under the prefix (README, "S3"):
//   lease.json                                  the prefix's owner (lease.ts)
//   meta/cluster.json                           the controller's metadata: topics, configs, SCRAM credentials,
//                                               ACLs, quotas, dynamic broker configs, the producer id block
//   data/<ms>-<instance>-w<worker>-<seq>.obj    a flush object: what one worker's partitions got since its last
//                                               upload, every partition in one object
//   data/<ms>-<instance>-m<worker>-<seq>.obj    a merged object: one partition's ranges from older flush objects,
//                                               rewritten by the background merge
// <ms> is the creation time (13 digits), so keys sort by age; <instance> names the broker process that wrote it
// (16 hex digits); <seq> counts that worker's objects (10 digits).
//
// Object layout (big-endian):
//   0   8  magic "SHOALS3\0"
//   8   4  format version (1)
//   12  4  header length H
//   16  H  header: UTF-8 JSON, ObjectHeader
//   16+H   data: the ranges' record batches, back to back, exactly as stored in the partition logs
// A range's `position` counts from the start of the object (not of the data), so a range GET needs no header.
// The header lists every range with its offsets: a LIST of data/ plus one ranged GET per object rebuilds where
// every offset of every partition is (remote-index.ts), so no separate manifest is written per upload.

export const kObjectMagic = Buffer.from('SHOALS3\0', 'latin1')
export const kObjectFormatVersion = 1
export const kObjectPreambleBytes = 16
/** A first GET of this many bytes reads most headers whole (a longer header takes a second GET). */
export const kHeaderProbeBytes = 64 * 1024
/** A header larger than this is refused as corrupt. */
export const kMaxHeaderBytes = 64 * 1024 * 1024

export interface ObjectRange {
  readonly topicId: string
  /** The topic's name when written (for logs and operators; the id is what identifies the partition). */
  readonly topic: string
  readonly partition: number
  /** The range covers offsets [baseOffset, endOffset): everything the log held there when it was read. */
  readonly baseOffset: number
  readonly endOffset: number
  /** Byte position of the range's first batch in the object, and its length (0: a range that only reports logStartOffset). */
  readonly position: number
  readonly length: number
  /** The largest batch max timestamp in the range (-1 when empty). */
  readonly maxTimestamp: number
  /** The partition's log start offset when the range was uploaded (retention and DeleteRecords move it). */
  readonly logStartOffset: number
}

export interface ObjectHeader {
  readonly kind: 'flush' | 'merged'
  /** The broker process that wrote it (lease.ts). */
  readonly instance: string
  readonly worker: number
  readonly createdMs: number
  readonly ranges: readonly ObjectRange[]
}

/** The key of a worker's `seq`-th object. */
export function dataObjectKey (prefix: string, kind: 'flush' | 'merged', createdMs: number, instance: string, worker: number, seq: number): string {
  const letter = kind === 'flush' ? 'w' : 'm'
  return `${prefix}data/${String(createdMs).padStart(13, '0')}-${instance}-${letter}${worker}-${String(seq).padStart(10, '0')}.obj`
}

export function dataPrefix (prefix: string): string {
  return `${prefix}data/`
}

export function metadataKey (prefix: string): string {
  return `${prefix}meta/cluster.json`
}

export function leaseKey (prefix: string): string {
  return `${prefix}lease.json`
}

/**
 * Lays out an object: the preamble and header, then the chunks. `ranges` give each range's length; positions
 * are filled in here, in order, so ranges[i] covers chunks whose lengths sum to ranges[i].length.
 * Returns the object as chunks (no copy of the data) and the header as written.
 */
export function encodeObject (header: Omit<ObjectHeader, 'ranges'>, ranges: ReadonlyArray<Omit<ObjectRange, 'position'>>, data: readonly Buffer[]): { chunks: Buffer[], header: ObjectHeader, size: number } {
  // Positions depend on the header's length, which depends on the positions' digits: fix the point by trying
  // (at most a few rounds: each round can only grow the digits).
  let headerBytes = 0
  let placed: ObjectRange[] = []
  let json = ''
  for (let round = 0; round < 8; round++) {
    let position = kObjectPreambleBytes + headerBytes
    placed = ranges.map((range) => {
      const at = position
      position += range.length
      return { ...range, position: at }
    })
    json = JSON.stringify({ ...header, ranges: placed })
    const length = Buffer.byteLength(json)
    if (length === headerBytes) break
    headerBytes = length
  }
  const headerBuffer = Buffer.from(json)
  if (headerBuffer.length !== headerBytes) throw new Error('object header layout did not settle')
  const preamble = Buffer.alloc(kObjectPreambleBytes)
  kObjectMagic.copy(preamble, 0)
  preamble.writeUInt32BE(kObjectFormatVersion, 8)
  preamble.writeUInt32BE(headerBuffer.length, 12)
  let size = kObjectPreambleBytes + headerBuffer.length
  for (const chunk of data) size += chunk.length
  return { chunks: [preamble, headerBuffer, ...data], header: { ...header, ranges: placed }, size }
}

/**
 * The header length an object's first bytes announce, or throws for bytes that are not one of our objects.
 * `probe` holds at least kObjectPreambleBytes.
 */
export function headerLength (probe: Buffer, key: string): number {
  if (probe.length < kObjectPreambleBytes || !probe.subarray(0, 8).equals(kObjectMagic)) throw new Error(`${key} is not a Shoal data object`)
  const version = probe.readUInt32BE(8)
  if (version !== kObjectFormatVersion) throw new Error(`${key}: unknown object format version ${version}`)
  const length = probe.readUInt32BE(12)
  if (length > kMaxHeaderBytes) throw new Error(`${key}: header of ${length} bytes`)
  return length
}

/** Decodes the header from bytes that hold the preamble and the whole header; throws when they are not valid. */
export function decodeHeader (bytes: Buffer, key: string): ObjectHeader {
  const length = headerLength(bytes, key)
  if (bytes.length < kObjectPreambleBytes + length) throw new Error(`${key}: header cut short`)
  const header = JSON.parse(bytes.toString('utf8', kObjectPreambleBytes, kObjectPreambleBytes + length)) as ObjectHeader
  if ((header.kind !== 'flush' && header.kind !== 'merged') || !Array.isArray(header.ranges)) throw new Error(`${key}: malformed header`)
  for (const range of header.ranges) {
    const ok = typeof range.topicId === 'string' && Number.isSafeInteger(range.partition) && Number.isSafeInteger(range.baseOffset) &&
      Number.isSafeInteger(range.endOffset) && range.endOffset >= range.baseOffset && Number.isSafeInteger(range.position) &&
      Number.isSafeInteger(range.length) && range.length >= 0 && Number.isSafeInteger(range.logStartOffset)
    if (!ok) throw new Error(`${key}: malformed range ${JSON.stringify(range)}`)
  }
  return header
}
