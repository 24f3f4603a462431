// AlterConfigs (key 33), v0-2, and IncrementalAlterConfigs (key 44), v0-1, for topics. AlterConfigs replaces a
// topic's overrides with the given set; IncrementalAlterConfigs applies operations (0 set, 1 delete, 2 append
// to a list, 3 subtract from a list). The controller validates and publishes the change to every worker.
// Broker settings come from flags and cannot be altered: INVALID_REQUEST.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { isTopicConfig, kListTopicConfigs, kTopicConfigDefaults } from '../config/topic-config.ts'
import type { TopicResult } from '../admin/controller.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { kTopicResource } from './describe-configs.ts'
import { repeatedKeys } from '../protocol/repeated.ts'
import { clipName } from '../group/clip.ts'

const alterApi = apiByKey(33)!
const incrementalApi = apiByKey(44)!

const kSet = 0
const kDelete = 1
const kAppend = 2
const kSubtract = 3

interface AlterRequest {
  resources: Array<{ resourceType: number, resourceName: string, configs: Array<{ name: string, configOperation: number, value: string | null }> }>
  validateOnly: boolean
}

function listOf (value: string | undefined): string[] {
  return value === undefined || value === '' ? [] : value.split(',')
}

async function alter (context: RequestContext, request: AlterRequest, incremental: boolean): Promise<object> {
  const { shard } = context
  const responses = []
  const resourceKey = (resource: AlterRequest['resources'][number]): string => `${resource.resourceType}:${resource.resourceName}`
  const repeated = repeatedKeys(request.resources, resourceKey)
  for (const resource of request.resources) {
    const base = { resourceType: resource.resourceType, resourceName: resource.resourceName }
    if (repeated.has(resourceKey(resource))) {
      responses.push({ ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Duplicate resource in request.' })
      continue
    }
    if (repeatedKeys(resource.configs ?? [], (config) => String(config.name)).size > 0) {
      responses.push({ ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Error due to duplicate config keys' })
      continue
    }
    if (resource.resourceType !== kTopicResource) {
      responses.push({ ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Only topic configs can be altered' })
      continue
    }
    const current = shard.table.topic(resource.resourceName)?.configs ?? {}
    // Names are checked here, before they index anything: `__proto__` or `constructor` must never become keys.
    const set: Record<string, string | null> = Object.create(null)
    let error: string | null = null
    let errorCode: number = ErrorCode.INVALID_REQUEST
    for (const config of resource.configs ?? []) {
      const operation = incremental ? config.configOperation : kSet
      if (typeof config.name !== 'string' || !isTopicConfig(config.name)) {
        error = `Unknown topic config name: ${clipName(String(config.name))}`
        errorCode = ErrorCode.INVALID_CONFIG
        break
      }
      if ((operation === kAppend || operation === kSubtract) && !kListTopicConfigs.has(config.name)) {
        error = `Config value ${operation === kAppend ? 'append' : 'subtract'} is not allowed for config key ${config.name}, which is not a list`
        errorCode = ErrorCode.INVALID_CONFIG
        break
      }
      const existing = Object.hasOwn(set, config.name) ? set[config.name] ?? undefined : Object.hasOwn(current, config.name) ? current[config.name] : kTopicConfigDefaults[config.name]
      switch (operation) {
        case kSet: set[config.name] = config.value; break
        case kDelete: set[config.name] = null; break
        case kAppend: set[config.name] = [...new Set([...listOf(existing), ...listOf(config.value ?? '')])].join(','); break
        case kSubtract: set[config.name] = listOf(existing).filter((item) => !listOf(config.value ?? '').includes(item)).join(','); break
        default: error = `Unknown config operation ${operation}`
      }
      if (error !== null) break
    }
    if (error !== null) {
      responses.push({ ...base, errorCode, errorMessage: error })
      continue
    }
    const result = await shard.admin<TopicResult>({ op: 'alterTopicConfigs', topic: resource.resourceName, set: { ...set }, incremental, validateOnly: request.validateOnly })
    responses.push({ ...base, errorCode: result.errorCode, errorMessage: result.errorMessage })
  }
  return { throttleTimeMs: 0, responses }
}

export const alterConfigsHandler: Handler = { api: alterApi, minVersion: 0, maxVersion: 2, handle: (context, request) => alter(context, request, false) }
export const incrementalAlterConfigsHandler: Handler = { api: incrementalApi, minVersion: 0, maxVersion: 1, handle: (context, request) => alter(context, request, true) }
