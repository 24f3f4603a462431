// Captures golden Kafka frames from real clients into test/fixtures/golden/ (read by test/protocol/golden.test.ts).
//
//   node_modules/.bin/node scripts/capture-golden.ts [--out DIR] [--clients kafkajs,platformatic,kcat,confluent-python]
//
// What it does:
//   1. Starts a recording proxy on 127.0.0.1 (an ephemeral port), then a real Shoal broker
//      (`node src/main.ts --listen 127.0.0.1:0 --advertised-listener <proxy> --data-dir <tmp> --workers 2`), so
//      that the broker's Metadata sends every client back through the proxy.
//   2. The proxy reads Kafka frames. It answers ApiVersions (key 18) itself, encoding an ApiVersionsResponse with
//      the project's codec that advertises every API of kApis with its targeted range (Produce from v0, see
//      apiVersionsResponse), so each client then uses its own preferred versions. Every other request is
//      forwarded to the broker, and the broker's answers are forwarded back (in request order). Request frames
//      and the broker's response frames are recorded, tagged with the request's API key and version (responses
//      through their correlation id).
//   3. Drives the clients one after the other, each against its own topics:
//        kafkajs (node_modules)             CreateTopics, idempotent gzip Produce, ListOffsets, Fetch (through the
//                                           cluster's broker object: kafkajs only fetches inside consumer groups,
//                                           which Shoal does not serve yet), DeleteTopics
//        platformatic (@platformatic/kafka) CreateTopics, CreatePartitions, idempotent Produce, ListOffsets,
//                                           Fetch (the library's fetchV16 API on its Connection), DeleteTopics
//        kcat (/usr/bin/kcat, librdkafka)   Produce with -z lz4, then -C -o beginning -e
//        confluent-python (/usr/bin/python3, Debian's python3-confluent-kafka)   Produce
//   4. Writes, per client, API, version and direction, the largest frame seen (largest: the Metadata request that
//      names topics, the Fetch response that carries records) as `<client>-<api>-v<version>.hex` (requests) and
//      `<client>-<api>-v<version>-response.hex` (responses). A file is a few `# key: value` comment lines, then
//      the frame (size prefix removed: header and body) in hex, 32 bytes a line. Existing files of the captured
//      clients are replaced.
// Re-running changes the fixtures (timestamps, producer ids, CRCs); the golden test only relies on what any
// capture has: the frames decode, re-encode to the same bytes, and carry the topics and records sent here.
import { spawn, execFileSync } from 'node:child_process'
import { createServer, connect, type Socket } from 'node:net'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { apiByKey, kApis, requestHeaderVersion, responseHeaderVersion } from '../src/protocol/apis.ts'
import { codecFor } from '../src/protocol/codec.ts'
import { requestHeader } from '../src/protocol/messages/headers.ts'
import { Reader } from '../src/protocol/reader.ts'
import { Writer } from '../src/protocol/writer.ts'

const kRoot = fileURLToPath(new URL('..', import.meta.url))
const kAllClients = ['kafkajs', 'platformatic', 'kcat', 'confluent-python']

interface Captured {
  client: string
  direction: 'request' | 'response'
  apiKey: number
  apiVersion: number
  frame: Buffer
}

function parseArgs (): { out: string, clients: string[] } {
  const args = process.argv.slice(2)
  let out = join(kRoot, 'test', 'fixtures', 'golden')
  let clients = kAllClients
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--out') out = args[++i]
    else if (args[i] === '--clients') clients = args[++i].split(',')
    else throw new Error(`unknown argument ${args[i]}`)
  }
  for (const client of clients) if (!kAllClients.includes(client)) throw new Error(`unknown client ${client}`)
  return { out, clients }
}

/** Splits a byte stream into Kafka frames (without their int32 size prefix). */
class FrameSplitter {
  #buffer = Buffer.alloc(0)
  push (chunk: Buffer): Buffer[] {
    this.#buffer = Buffer.concat([this.#buffer, chunk])
    const frames: Buffer[] = []
    while (this.#buffer.length >= 4) {
      const size = this.#buffer.readInt32BE(0)
      if (this.#buffer.length < 4 + size) break
      frames.push(Buffer.from(this.#buffer.subarray(4, 4 + size)))
      this.#buffer = this.#buffer.subarray(4 + size)
    }
    return frames
  }
}

function withSizePrefix (frame: Buffer): Buffer {
  const prefix = Buffer.alloc(4)
  prefix.writeInt32BE(frame.length)
  return Buffer.concat([prefix, frame])
}

/** The ApiVersions answer: every API of kApis with its targeted range, in the version asked (v0 if unknown). */
function apiVersionsResponse (requestFrame: Buffer): Buffer {
  const api = apiByKey(18)!
  const asked = requestFrame.readInt16BE(2)
  const correlationId = requestFrame.readInt32BE(4)
  const known = asked >= api.minVersion && asked <= api.maxVersion
  const version = known ? asked : 0
  // Produce is advertised from v0, as Kafka 4 does (KAFKA-18659): librdkafka (2.0.2 here) only compresses with lz4
  // when the broker lists Produce v0, and would otherwise send kcat's `-z lz4` batches uncompressed.
  const apiKeys = kApis.map((a) => ({ apiKey: a.key, minVersion: a.key === 0 ? 0 : a.minVersion, maxVersion: a.maxVersion }))
    .sort((a, b) => a.apiKey - b.apiKey)
  const w = new Writer()
  w.startFrame()
  w.int32(correlationId) // response header v0, always, for ApiVersions
  api.response(version).encode(w, { errorCode: known ? 0 : 35, apiKeys, throttleTimeMs: 0 })
  return Buffer.concat(w.finishFrame())
}

/** acks of a Produce request frame (acks 0 gets no answer); other requests are always answered. */
function expectsResponse (frame: Buffer): boolean {
  const apiKey = frame.readInt16BE(0)
  if (apiKey !== 0) return true
  const apiVersion = frame.readInt16BE(2)
  const api = apiByKey(0)!
  const reader = new Reader(frame)
  codecFor(requestHeader, requestHeaderVersion(api, apiVersion)).decode(reader)
  return api.request(apiVersion).decode(reader).acks !== 0
}

class RecordingProxy {
  readonly captured: Captured[] = []
  client = 'unknown'
  brokerPort = 0
  readonly sockets = new Set<Socket>()
  readonly server = createServer((socket) => this.#accept(socket))

  async listen (): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    return (this.server.address() as { port: number }).port
  }

  #accept (downstream: Socket): void {
    const client = this.client
    const upstream = connect(this.brokerPort, '127.0.0.1')
    this.sockets.add(downstream)
    this.sockets.add(upstream)
    const inFlight = new Map<number, { apiKey: number, apiVersion: number }>()
    // Answers in request order: local ApiVersions answers wait for the broker's answers to earlier requests.
    const order: Array<{ correlationId: number, frame: Buffer | null }> = []
    const flush = (): void => {
      while (order.length > 0 && order[0].frame !== null) downstream.write(order.shift()!.frame!)
    }
    const fromClient = new FrameSplitter()
    const fromBroker = new FrameSplitter()
    downstream.on('data', (chunk: Buffer) => {
      for (const frame of fromClient.push(chunk)) {
        const apiKey = frame.readInt16BE(0)
        const apiVersion = frame.readInt16BE(2)
        const correlationId = frame.readInt32BE(4)
        this.captured.push({ client, direction: 'request', apiKey, apiVersion, frame })
        if (apiKey === 18) {
          order.push({ correlationId, frame: apiVersionsResponse(frame) })
          flush()
          continue
        }
        inFlight.set(correlationId, { apiKey, apiVersion })
        if (expectsResponse(frame)) order.push({ correlationId, frame: null })
        upstream.write(withSizePrefix(frame))
      }
    })
    upstream.on('data', (chunk: Buffer) => {
      for (const frame of fromBroker.push(chunk)) {
        const correlationId = frame.readInt32BE(0)
        const request = inFlight.get(correlationId)
        if (request === undefined) throw new Error(`broker answered unknown correlation id ${correlationId}`)
        inFlight.delete(correlationId)
        this.captured.push({ client, direction: 'response', apiKey: request.apiKey, apiVersion: request.apiVersion, frame })
        const slot = order.find((o) => o.correlationId === correlationId && o.frame === null)
        if (slot !== undefined) slot.frame = withSizePrefix(frame)
        flush()
      }
    })
    const closeBoth = (): void => {
      downstream.destroy()
      upstream.destroy()
      this.sockets.delete(downstream)
      this.sockets.delete(upstream)
    }
    downstream.on('close', closeBoth)
    upstream.on('close', closeBoth)
    downstream.on('error', closeBoth)
    upstream.on('error', closeBoth)
  }

  async close (): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

async function startShoal (advertised: string, dataDir: string): Promise<{ port: number, stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [join(kRoot, 'src', 'main.ts'), '--listen', '127.0.0.1:0', '--advertised-listener', advertised,
    '--data-dir', dataDir, '--workers', '2', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const port = await new Promise<number>((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => reject(new Error('broker did not start within 20 s')), 20_000)
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (text: string) => {
      output += text
      const match = /listening on [^\s]+:(\d+)/.exec(output)
      if (match !== null) {
        clearTimeout(timer)
        resolve(Number(match[1]))
      }
    })
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}`)))
  })
  return {
    port,
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    }
  }
}

/** Runs a client process; asynchronously, since the proxy serving it lives in this process. */
async function run (command: string, args: string[], input?: string): Promise<void> {
  const child = spawn(command, args, { stdio: ['pipe', 'inherit', 'inherit'] })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  child.stdin!.end(input ?? '')
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  clearTimeout(timer)
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}`)
}

// ---- the clients --------------------------------------------------------------------------------------------

async function driveKafkajs (bootstrap: string): Promise<void> {
  const require = createRequire(import.meta.url)
  const { Kafka, CompressionTypes, logLevel } = require('kafkajs')
  const kafka = new Kafka({ clientId: 'golden-kafkajs', brokers: [bootstrap], logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: 'golden-kafkajs', numPartitions: 2 }, { topic: 'golden-kafkajs-deleted', numPartitions: 1 }] })
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  await producer.send({
    topic: 'golden-kafkajs',
    compression: CompressionTypes.GZIP,
    messages: [
      { key: 'k1', value: 'gzip välue 1', partition: 0, headers: { source: 'kafkajs' } },
      { key: null, value: 'gzip value 2', partition: 0 },
      { key: 'k3', value: 'gzip value 3 🐟', partition: 0 }
    ]
  })
  await producer.disconnect()
  const offsets = await admin.fetchTopicOffsets('golden-kafkajs')
  if (offsets.find((o: { partition: number, high: string }) => o.partition === 0)?.high !== '3') throw new Error(`unexpected offsets ${JSON.stringify(offsets)}`)
  // Fetch through kafkajs's own cluster and broker objects (kafkajs consumers need consumer groups).
  const createCluster = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster')!
  const cluster = kafka[createCluster]({})
  await cluster.connect()
  await cluster.addTargetTopic('golden-kafkajs')
  const leader = cluster.findLeaderForPartitions('golden-kafkajs', [0, 1])
  for (const [nodeId, partitions] of Object.entries(leader) as Array<[string, number[]]>) {
    const broker = await cluster.findBroker({ nodeId })
    const response = await broker.fetch({
      maxWaitTime: 100,
      topics: [{ topic: 'golden-kafkajs', partitions: partitions.map((partition) => ({ partition, fetchOffset: '0', maxBytes: 1048576 })) }]
    })
    const count = response.responses[0].partitions.reduce((n: number, p: { messages: unknown[] }) => n + p.messages.length, 0)
    if (count !== 3) throw new Error(`kafkajs fetched ${count} records`)
  }
  await cluster.disconnect()
  await admin.deleteTopics({ topics: ['golden-kafkajs-deleted'] })
  await admin.disconnect()
}

async function drivePlatformatic (bootstrap: string): Promise<void> {
  const kafka: any = await import('@platformatic/kafka')
  const topic = 'golden-platformatic'
  const admin = new kafka.Admin({ clientId: 'golden-platformatic', bootstrapBrokers: [bootstrap] })
  await admin.createTopics({ topics: [topic, `${topic}-deleted`], partitions: 2, replicas: 1 })
  await admin.createPartitions({ topics: [{ name: `${topic}-deleted`, count: 3 }] })
  const producer = new kafka.Producer({ clientId: 'golden-platformatic', bootstrapBrokers: [bootstrap], serializers: kafka.stringSerializers, idempotent: true })
  await producer.send({
    messages: [
      { topic, partition: 0, key: 'p1', value: 'platformatic välue 1', headers: new Map([['h', 'v']]) },
      { topic, partition: 0, key: 'p2', value: 'platformatic value 2' }
    ]
  })
  await producer.close()
  await admin.listOffsets({ topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -1n }, { partitionIndex: 1, timestamp: -2n }] }] })
  // Fetch with the library's own Fetch v16 encoder (its consumers need consumer groups).
  const metadata = await admin.metadata({ topics: [topic] })
  const topicId: string = metadata.topics.get(topic).id
  const [host, port] = bootstrap.split(':')
  const connection = new kafka.Connection('golden-platformatic')
  await connection.connect(host, Number(port))
  const partitions = [0, 1].map((partition) => ({ partition, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, partitionMaxBytes: 1048576 }))
  const response = await kafka.fetchV16.api.async(connection, 100, 1, 1048576, 0, 0, -1, [{ topicId, partitions }], [], '')
  const batches = response.responses[0].partitions.find((p: { partitionIndex: number }) => p.partitionIndex === 0).records ?? []
  if (batches.length === 0) throw new Error('platformatic fetched no records')
  await connection.close()
  await admin.deleteTopics({ topics: [`${topic}-deleted`] })
  await admin.close()
}

async function driveKcat (bootstrap: string): Promise<void> {
  // librdkafka sends a batch uncompressed when compressing does not make it smaller: repetitive values do.
  const lines = ['a:lz4 välue one ', 'b:lz4 value two ', 'c:lz4 value three '].map((line) => line + 'x'.repeat(120)).join('\n') + '\n'
  await run('/usr/bin/kcat', ['-b', bootstrap, '-P', '-t', 'golden-kcat', '-z', 'lz4', '-K', ':', '-c', '3'], lines)
  await run('/usr/bin/kcat', ['-b', bootstrap, '-C', '-t', 'golden-kcat', '-o', 'beginning', '-e', '-q'])
}

async function driveConfluentPython (bootstrap: string): Promise<void> {
  const script = [
    'import sys',
    'from confluent_kafka import Producer',
    "p = Producer({'bootstrap.servers': sys.argv[1], 'client.id': 'golden-confluent-python'})",
    'for i in range(3):',
    "    p.produce('golden-confluent-python', key=('py%d' % i).encode(), value=('python välue %d' % i).encode())",
    'left = p.flush(20)',
    "assert left == 0, 'undelivered: %d' % left"
  ].join('\n')
  await run('/usr/bin/python3', ['-c', script, bootstrap])
}

const kDrivers: Record<string, (bootstrap: string) => Promise<void>> = {
  kafkajs: driveKafkajs,
  platformatic: drivePlatformatic,
  kcat: driveKcat,
  'confluent-python': driveConfluentPython
}

function clientVersion (client: string): string {
  try {
    switch (client) {
      case 'kafkajs': return `kafkajs ${JSON.parse(readFileSync(join(kRoot, 'node_modules/kafkajs/package.json'), 'utf8')).version}`
      case 'platformatic': return `@platformatic/kafka ${JSON.parse(readFileSync(join(kRoot, 'node_modules/@platformatic/kafka/package.json'), 'utf8')).version}`
      case 'kcat': return execFileSync('/usr/bin/kcat', ['-V'], { encoding: 'utf8' }).split('\n').find((l) => l.includes('librdkafka'))?.trim() ?? 'kcat'
      case 'confluent-python': return execFileSync('/usr/bin/python3', ['-c', 'import confluent_kafka as c; print("confluent-kafka-python %s, librdkafka %s" % (c.version()[0], c.libversion()[0]))'], { encoding: 'utf8' }).trim()
    }
  } catch {}
  return client
}

function kebab (name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()
}

function writeFixtures (out: string, clients: string[], captured: Captured[]): Map<string, number> {
  mkdirSync(out, { recursive: true })
  for (const file of readdirSync(out)) {
    if (file.endsWith('.hex') && clients.some((client) => file.startsWith(`${client}-`))) rmSync(join(out, file))
  }
  const best = new Map<string, Captured>()
  for (const c of captured) {
    const api = apiByKey(c.apiKey)
    if (api === undefined) {
      process.stderr.write(`skipping ${c.client} ${c.direction} of unknown API ${c.apiKey}\n`)
      continue
    }
    const name = `${c.client}-${kebab(api.name)}-v${c.apiVersion}${c.direction === 'response' ? '-response' : ''}.hex`
    const previous = best.get(name)
    if (previous === undefined || c.frame.length > previous.frame.length) best.set(name, c)
  }
  const perClient = new Map<string, number>()
  const versions = new Map(clients.map((client) => [client, clientVersion(client)]))
  for (const [name, c] of [...best].sort()) {
    const api = apiByKey(c.apiKey)!
    const headerVersion = c.direction === 'request' ? requestHeaderVersion(api, c.apiVersion) : responseHeaderVersion(api, c.apiVersion)
    const hex = c.frame.toString('hex').match(/.{1,64}/g)!.join('\n')
    writeFileSync(join(out, name), [
      `# client: ${c.client} (${versions.get(c.client)})`,
      `# api: ${api.name}`,
      `# api-key: ${c.apiKey}`,
      `# api-version: ${c.apiVersion}`,
      `# direction: ${c.direction}`,
      `# header-version: ${headerVersion}`,
      `# source: ${c.direction === 'request' ? 'sent by the client' : 'sent by Shoal'}; frame without its size prefix (${c.frame.length} bytes), captured by scripts/capture-golden.ts`,
      hex,
      ''
    ].join('\n'))
    perClient.set(c.client, (perClient.get(c.client) ?? 0) + 1)
  }
  return perClient
}

async function main (): Promise<void> {
  const { out, clients } = parseArgs()
  const proxy = new RecordingProxy()
  const proxyPort = await proxy.listen()
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-golden-'))
  const broker = await startShoal(`127.0.0.1:${proxyPort}`, dataDir)
  proxy.brokerPort = broker.port
  const bootstrap = `127.0.0.1:${proxyPort}`
  try {
    for (const client of clients) {
      process.stderr.write(`capturing ${client}\n`)
      proxy.client = client
      await kDrivers[client](bootstrap)
      // Let the client's last connections close before the next client's frames start.
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  } finally {
    await proxy.close()
    await broker.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
  const perClient = writeFixtures(out, clients, proxy.captured)
  for (const client of clients) process.stderr.write(`${client}: ${perClient.get(client) ?? 0} fixtures\n`)
}

await main()
