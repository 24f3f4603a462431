// The deployment files start a working broker: the broker is started exactly as deploy/systemd/shoal.service's
// ExecStart= and Environment= lines and the Dockerfile's ENV and ENTRYPOINT/CMD say, with only what a test must
// change substituted (the install directory /opt/shoal becomes this checkout, the data directory a fresh temp
// directory, the listen ports 0), and must serve Kafka (ApiVersions) and /readyz, pass the image's own HEALTHCHECK
// command, and exit 0 on SIGTERM. The unit runs with a NOTIFY_SOCKET and a stand-in systemd-notify, which must be
// told READY=1 once the broker serves. Settings that must agree across the files (the volume and the data
// directory, exposed and listened ports, stop timeouts above the broker's shutdown timeout, the compose file's
// health check, what .dockerignore lets the Dockerfile COPY) are checked without a broker.
// Docker itself and systemd-analyze are run by .ci/run where the machine has them.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { kRepoRoot, waitFor } from './helpers/broker.ts'
import { KafkaClient } from './helpers/kafka-client.ts'
import { parseDockerfile, parseSystemdUnit, parseTimeSpanMs } from './helpers/deploy-files.ts'
import { parseConfig } from '../src/config/config.ts'
import { ErrorCode } from '../src/protocol/errors.ts'

const kRoot = kRepoRoot.replace(/\/$/, '')
const kImage = parseDockerfile(readFileSync(join(kRoot, 'Dockerfile'), 'utf8'))
const kUnit = parseSystemdUnit(readFileSync(join(kRoot, 'deploy/systemd/shoal.service'), 'utf8'))
/** The broker's own default, which both stop timeouts must exceed. */
const kDefaultShutdownTimeoutMs = parseConfig([]).shutdownTimeoutMs
/** What Docker and systemd give a process for PATH when nothing sets one. */
const kDefaultPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

function portOf (hostPort: string): string {
  return hostPort.slice(hostPort.lastIndexOf(':') + 1)
}

/** The install directory in the files (`/opt/shoal`) replaced by this checkout, in every word that starts with it. */
function inCheckout (words: readonly string[], installDir: string): string[] {
  return words.map((word) => word === installDir || word.startsWith(`${installDir}/`) ? kRoot + word.slice(installDir.length) : word)
}

/**
 * The files' environment with the test's substitutions: the data directory, and port 0 for both listeners (their
 * hosts are kept). Returns the substituted environment.
 */
function substituted (env: ReadonlyMap<string, string>, dataDir: string): Record<string, string> {
  const out: Record<string, string> = Object.fromEntries(env)
  assert.ok(out.SHOAL_DATA_DIR !== undefined && out.SHOAL_LISTEN !== undefined && out.SHOAL_METRICS_LISTEN !== undefined, JSON.stringify(out))
  out.SHOAL_DATA_DIR = dataDir
  out.SHOAL_LISTEN = out.SHOAL_LISTEN.replace(/:\d+$/, ':0')
  out.SHOAL_METRICS_LISTEN = out.SHOAL_METRICS_LISTEN.replace(/:\d+$/, ':0')
  return out
}

interface Started {
  readonly child: ChildProcess
  readonly kafkaPort: number
  readonly metricsPort: number
  output (): string
  exited: Promise<number | string>
}

/** Spawns `argv` in `cwd` with exactly `env` (nothing inherited) and waits for its listening and metrics lines. */
async function spawnBroker (argv: readonly string[], env: Record<string, string>, cwd: string): Promise<Started> {
  const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.setEncoding('utf8').on('data', (text: string) => { output += text })
  child.stderr!.setEncoding('utf8').on('data', (text: string) => { output += text })
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')))
  let gone = false
  void exited.then(() => { gone = true })
  const ports = await waitFor(() => {
    if (gone) throw new Error(`the broker exited before serving:\n${output}`)
    const kafka = /listening on \S+:(\d+)/.exec(output)
    const metrics = /metrics on \S+:(\d+)/.exec(output)
    return kafka !== null && metrics !== null ? { kafka: Number(kafka[1]), metrics: Number(metrics[1]) } : null
  }, 30_000, 'the listening and metrics lines').catch((error: Error) => {
    child.kill('SIGKILL')
    throw error
  })
  return { child, kafkaPort: ports!.kafka, metricsPort: ports!.metrics, output: () => output, exited }
}

/** Serves Kafka (ApiVersions v3 answered without error) and /readyz answers 200. */
async function assertServes (broker: Started): Promise<void> {
  const client = await KafkaClient.connect('127.0.0.1', broker.kafkaPort)
  try {
    const response = await client.request(18, 3, { clientSoftwareName: 'shoal-deploy-test', clientSoftwareVersion: '1' })
    assert.equal(response.errorCode, ErrorCode.NONE)
    assert.ok(response.apiKeys.length > 0)
  } finally {
    client.close()
  }
  await waitFor(async () => (await fetch(`http://127.0.0.1:${broker.metricsPort}/readyz`)).status === 200, 20_000, `/readyz 200:\n${broker.output()}`)
}

/** SIGTERM, then the exit code (within the broker's shutdown timeout and a margin). */
async function stopWithSigterm (broker: Started): Promise<number | string> {
  broker.child.kill('SIGTERM')
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<string>((resolve) => { timer = setTimeout(resolve, kDefaultShutdownTimeoutMs + 10_000, 'no exit within the shutdown timeout') })
  try {
    return await Promise.race([broker.exited, late])
  } finally {
    clearTimeout(timer)
  }
}

/** Runs a command to its end and gives its exit code and output. */
function run (argv: readonly string[], env: Record<string, string>, cwd: string): Promise<{ code: number | string, output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (text: string) => { output += text })
    child.stderr.setEncoding('utf8').on('data', (text: string) => { output += text })
    child.once('error', reject)
    child.once('exit', (code, signal) => resolve({ code: code ?? signal ?? 'unknown', output }))
  })
}

function tempDirectory (t: { after (fn: () => unknown): void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

describe('Dockerfile', () => {
  test('runs the pinned Node from node_modules, in exec form, as a non-root user, stopped by SIGTERM', () => {
    assert.equal(kImage.workdir, '/opt/shoal')
    assert.deepEqual(kImage.entrypoint.slice(0, 1), [`${kImage.workdir}/node_modules/node/bin/node`])
    assert.ok(existsSync(join(kRoot, 'node_modules/node/bin/node')), 'node_modules/node/bin/node is the pinned Node')
    assert.equal(kImage.stopSignal, 'SIGTERM')
    assert.ok(kImage.user !== null && !/^(0|root)(:|$)/.test(kImage.user), `USER ${kImage.user}`)
    assert.ok(kImage.healthcheck !== null && kImage.healthcheck.command[0] === kImage.entrypoint[0], 'the health check runs on the same Node')
  })

  test('keeps its data on the volume and exposes the ports it listens on', () => {
    assert.deepEqual(kImage.volumes, [kImage.env.get('SHOAL_DATA_DIR')])
    const ports = [portOf(kImage.env.get('SHOAL_LISTEN')!), portOf(kImage.env.get('SHOAL_METRICS_LISTEN')!)]
    assert.deepEqual([...kImage.expose].sort(), ports.sort())
    assert.match(kImage.env.get('SHOAL_LISTEN')!, /^0\.0\.0\.0:/, 'reachable from outside the container')
  })

  test('.dockerignore lets in everything the Dockerfile copies from the context', () => {
    const allowed = readFileSync(join(kRoot, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim())
      .filter((line) => line.startsWith('!')).map((line) => line.slice(1))
    for (const copy of kImage.copies) {
      if (copy.from !== null) continue
      for (const source of copy.sources) {
        assert.ok(allowed.includes(source.replace(/\/$/, '')), `COPY ${source} is excluded by .dockerignore`)
        assert.ok(existsSync(join(kRoot, source)), `COPY ${source}: no such file`)
      }
    }
  })

  test('docker-compose.yml checks health with the same command and stops with more than the shutdown timeout', () => {
    const compose = readFileSync(join(kRoot, 'docker-compose.yml'), 'utf8')
    const healthTest = /^\s+test: (\[.*\])\s*$/m.exec(compose)
    assert.ok(healthTest !== null, 'a healthcheck test in exec form')
    assert.deepEqual(JSON.parse(healthTest[1]), ['CMD', ...kImage.healthcheck!.command])
    const grace = /^\s+stop_grace_period: (\S+)\s*$/m.exec(compose)
    assert.ok(grace !== null && parseTimeSpanMs(grace[1]) > kDefaultShutdownTimeoutMs, `stop_grace_period ${grace?.[1]}`)
    assert.match(compose, /condition: service_healthy/)
  })

  test('the entry point with the image environment serves Kafka and /readyz, passes HEALTHCHECK, exits 0 on SIGTERM', { timeout: 120_000 }, async (t) => {
    const dataDir = tempDirectory(t, 'shoal-deploy-image-')
    // A container's environment is the image's ENV and what Docker adds (PATH, HOME of the user), nothing else.
    const env: Record<string, string> = { PATH: kDefaultPath, HOME: dataDir, ...substituted(kImage.env, dataDir) }
    const broker = await spawnBroker(inCheckout([...kImage.entrypoint, ...kImage.cmd], kImage.workdir), env, kRoot)
    t.after(() => { broker.child.kill('SIGKILL') })
    await assertServes(broker)

    // The health check as Docker runs it: its command, the container's environment (the metrics port is a fixed
    // one there; here it is the one the broker chose).
    const healthEnv = { ...env, SHOAL_METRICS_LISTEN: env.SHOAL_METRICS_LISTEN.replace(/:0$/, `:${broker.metricsPort}`) }
    const healthCommand = inCheckout(kImage.healthcheck!.command, kImage.workdir)
    const healthy = await run(healthCommand, healthEnv, kRoot)
    assert.equal(healthy.code, 0, healthy.output)
    assert.match(healthy.output, /ready/)

    assert.equal(await stopWithSigterm(broker), 0, broker.output())
    const afterStop = await run(healthCommand, healthEnv, kRoot)
    assert.equal(afterStop.code, 1, afterStop.output)
    assert.match(afterStop.output, /ECONNREFUSED/)
  })
})

describe('deploy/systemd/shoal.service', () => {
  test('is a notify service that systemd stops with SIGTERM, after longer than the broker shutdown timeout', () => {
    assert.equal(kUnit.get('Service', 'Type'), 'notify')
    assert.equal(kUnit.get('Service', 'NotifyAccess'), 'all', 'the READY=1 comes from a systemd-notify child')
    assert.equal(kUnit.get('Service', 'KillSignal'), 'SIGTERM')
    assert.ok(parseTimeSpanMs(kUnit.get('Service', 'TimeoutStopSec')!) > kDefaultShutdownTimeoutMs)
    assert.equal(kUnit.get('Service', 'Restart'), 'on-failure')
    assert.equal(kUnit.get('Service', 'LimitNOFILE'), '1048576')
  })

  test('runs the pinned Node as its own user, with its data in its state directory and an optional env file', () => {
    const user = kUnit.get('Service', 'User')
    assert.ok(user !== null && user !== 'root' && user !== '0')
    const workdir = kUnit.get('Service', 'WorkingDirectory')!
    assert.deepEqual(kUnit.execStart().slice(0, 1), [`${workdir}/node_modules/node/bin/node`])
    assert.equal(kUnit.environment().get('SHOAL_DATA_DIR'), `/var/lib/${kUnit.get('Service', 'StateDirectory')}`)
    assert.deepEqual(kUnit.all('Service', 'EnvironmentFile'), ['-/etc/shoal/shoal.env'])
    // The config file is named through SHOAL_CONFIG in that env file, which the broker reads.
    assert.equal(parseConfig([], { SHOAL_CONFIG: '/etc/shoal/server.properties' }, () => 'num.partitions=3\n').defaultPartitions, 3)
  })

  test('ExecStart with the unit environment serves Kafka and /readyz, notifies READY=1, exits 0 on SIGTERM', { timeout: 120_000 }, async (t) => {
    const dataDir = tempDirectory(t, 'shoal-deploy-unit-')
    const scratch = tempDirectory(t, 'shoal-deploy-notify-')
    // A stand-in systemd-notify, first on the PATH: it records the socket it was given and its arguments.
    const notifyLog = join(scratch, 'notify.log')
    const fake = join(scratch, 'systemd-notify')
    writeFileSync(fake, `#!/bin/sh\nprintf '%s %s\\n' "$NOTIFY_SOCKET" "$*" >> '${notifyLog}'\n`)
    chmodSync(fake, 0o755)
    const notifySocket = join(scratch, 'notify.sock')
    // What systemd gives a Type=notify service with StateDirectory=: its PATH, NOTIFY_SOCKET, STATE_DIRECTORY,
    // then Environment= (no /etc/shoal/shoal.env here; the unit marks it optional).
    const env = { PATH: `${scratch}:${kDefaultPath}`, HOME: dataDir, NOTIFY_SOCKET: notifySocket, STATE_DIRECTORY: dataDir, ...substituted(kUnit.environment(), dataDir) }
    const workdir = kUnit.get('Service', 'WorkingDirectory')!
    const broker = await spawnBroker(inCheckout(kUnit.execStart(), workdir), env, inCheckout([workdir], workdir)[0])
    t.after(() => { broker.child.kill('SIGKILL') })
    await assertServes(broker)
    const readyLine = String(await waitFor(() => existsSync(notifyLog) && readFileSync(notifyLog, 'utf8').split('\n').find((line) => line.includes('READY=1')), 10_000, 'READY=1'))
    assert.ok(readyLine.startsWith(`${notifySocket} READY=1 STATUS=serving Kafka on `) && readyLine.endsWith(`:${broker.kafkaPort}`), readyLine)

    assert.equal(await stopWithSigterm(broker), 0, broker.output())
    await waitFor(() => readFileSync(notifyLog, 'utf8').includes('STOPPING=1 STATUS=SIGTERM: shutting down'), 10_000, 'STOPPING=1')
  })
})
