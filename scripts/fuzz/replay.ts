// Replays a failure file written by the runner: the frames each connection sent before the failure, sent again
// in order per recorded connection (the connections at once; within one, each frame after the one before it is
// answered, or its connection closed and replaced, as the runner does), then a liveness check. Reports whether the broker died, hung or stayed healthy. `only` replays one frame
// ("CONNECTION:INDEX" into the file's list), alone on its own connection, to narrow a failure down.
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { livenessCheck } from './runner.ts'
import type { Target } from './broker.ts'

export interface ReplayFile {
  seed: number
  kind: string
  detail: string
  connections: Array<{ index: number, frames: Array<{ n: number, api: string, version: number, kind: string, what: string, desync: boolean, bytes: string }> }>
}

export interface ReplayResult {
  readonly outcome: 'crash' | 'hang' | 'ok'
  readonly detail: string
}

/**
 * Sends `frames` in order, each once the one before it is answered, the connection closed (then a new one is
 * opened for the rest, as the runner does) or `stepMs` passed; frame-size lies are sent as they were.
 */
async function sendAll (target: Target, frames: Buffer[], stepMs: number): Promise<string> {
  let answered = 0
  let closes = 0
  let socket: Socket | null = null
  let wake: (() => void) | null = null
  let buffered = 0
  const open = (): Promise<Socket> => new Promise((resolve) => {
    const s = connect({ host: target.host, port: target.port, noDelay: true })
    s.on('error', () => {})
    s.on('data', (chunk: Buffer) => {
      buffered += chunk.length
      // Count whole answers (size-prefixed); wake the sender on each.
      while (buffered >= 4) {
        answered++
        buffered = 0
        wake?.()
      }
    })
    s.on('close', () => {
      if (socket === s) socket = null
      closes++
      wake?.()
    })
    s.once('connect', () => resolve(s))
    s.once('error', () => resolve(s))
  })
  for (const frame of frames) {
    if (socket === null || socket.destroyed) socket = await open()
    const waited = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, stepMs)
      wake = () => { clearTimeout(timer); resolve() }
    })
    socket.write(frame)
    await waited
    wake = null
  }
  const last = socket as Socket | null
  last?.destroy()
  return `${frames.length} frames sent, ${answered} answer(s) seen, ${closes} close(s)`
}

export async function replay (file: string, target: Target, options: { only?: string, quietMs?: number, log (line: string): void }): Promise<ReplayResult> {
  const recorded = JSON.parse(readFileSync(file, 'utf8')) as ReplayFile
  options.log(`replay: ${file}: ${recorded.kind} (seed ${recorded.seed}): ${recorded.detail.split('\n')[0]}`)
  let streams: Buffer[][]
  if (options.only !== undefined) {
    const [c, f] = options.only.split(':').map(Number)
    const frame = recorded.connections[c].frames[f]
    options.log(`replay: only connection ${c} frame ${f}: ${frame.api} v${frame.version} ${frame.kind}: ${frame.what}`)
    streams = [[Buffer.from(frame.bytes, 'base64')]]
  } else {
    streams = recorded.connections.map((c) => c.frames.map((f) => Buffer.from(f.bytes, 'base64')))
  }
  const exited = target.exited.then((how) => ({ outcome: 'crash' as const, detail: how }))
  const sent = Promise.all(streams.map((frames) => sendAll(target, frames, options.quietMs ?? 300))).then((how) => ({ outcome: 'ok' as const, detail: how.join('; ') }))
  const first = await Promise.race([exited, sent])
  if (first.outcome === 'crash') return { outcome: 'crash', detail: `${first.detail}\n${target.tail().slice(-4000)}` }
  options.log(`replay: connections: ${first.detail}`)
  try {
    const ms = await livenessCheck(target)
    return { outcome: 'ok', detail: `broker alive, liveness ${Math.round(ms)} ms` }
  } catch (error) {
    if (!target.isAlive()) return { outcome: 'crash', detail: `${await target.exited}\n${target.tail().slice(-4000)}` }
    return { outcome: 'hang', detail: (error as Error).message }
  }
}
