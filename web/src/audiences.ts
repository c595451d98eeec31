// Audiences on the client: the rule the page's condition rows stand for, the size-history chart as a pure option
// builder, and saving a result cell's persons as an audience (the API writes them inside the warehouse).
import type { EChartsCoreOption } from 'echarts/core'
import { api, call, type Schemas } from './api/client'

export interface Condition {
  kind: 'event' | 'tag'
  name: string
  op: string // tag conditions: = != > < in is_set
  value: string
  at_least: number
  days: number
  negate: boolean
}

type Rule = Record<string, unknown>

function leaf(c: Condition): Rule {
  if (c.kind === 'event') return { event: c.name.trim(), at_least: c.at_least, days: c.days }
  const tag: Rule = { tag: c.name.trim(), op: c.op }
  if (c.op === 'in') tag.value = c.value.split(',').map((v) => v.trim()).filter(Boolean)
  else if (c.op === '>' || c.op === '<') tag.value = Number(c.value)
  else if (c.op !== 'is_set') tag.value = c.value
  return tag
}

/** The rule JSON (pipelines/audiences/rules.py) of the condition rows joined by all / any. */
export function audienceRule(conditions: Condition[], combine: 'all' | 'any'): Rule {
  const rules = conditions.map((c) => (c.negate ? { not: leaf(c) } : leaf(c)))
  return rules.length === 1 ? rules[0] : { [combine]: rules }
}

/** Persons per version over time. */
export function sizeHistoryOption(history: Schemas['AudienceSize'][]): EChartsCoreOption {
  return {
    tooltip: { trigger: 'axis' },
    grid: { left: 50, right: 20, top: 20, bottom: 30 },
    xAxis: { type: 'category', data: history.map((h) => h.created.replace('T', ' ').slice(0, 16)) },
    yAxis: { type: 'value', minInterval: 1 },
    series: [{ name: 'persons', type: 'line', step: 'end', data: history.map((h) => h.size) }],
  }
}

/** Saves every person of one result cell (`request` with its `persons` selector) as a static audience. */
export function saveResultAudience(name: string, request: Record<string, unknown>): Promise<Schemas['Audience']> {
  return call<Schemas['Audience']>(api.POST('/v1/audiences', { body: { name, kind: 'static', result: request } as never }))
}
