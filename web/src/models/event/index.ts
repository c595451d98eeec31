// Event page: metrics (event, filters, math), breakdowns, granularity, compare to the previous period; a trend
// as lines or bars.
import type { FieldErrors, Schemas } from '../../api/client'
import type { ModelDefinition } from '../types'
import { checkBreakdown, checkName, checkScope, checkSelector } from '../../validate'
import Editor from './EventEditor.vue'
import View from './EventView.vue'

export type EventRequest = Schemas['EventQuery']
export const PROPERTY_MATHS = ['sum', 'avg', 'min', 'max']

function validate(request: EventRequest, errors: FieldErrors): void {
  checkScope(errors, request)
  if (!request.metrics.length) errors.metrics = 'add a metric'
  request.metrics.forEach((metric, i) => {
    checkSelector(errors, `metrics.${i}`, metric)
    if (PROPERTY_MATHS.includes(metric.math ?? 'total')) checkName(errors, `metrics.${i}.property`, metric.property, 'a numeric property')
  })
  request.group_by?.forEach((item, i) => checkBreakdown(errors, `group_by.${i}`, item))
}

const event: ModelDefinition<EventRequest> = {
  create: (scope, catalog) => ({
    model: 'event', ...scope, filters: [],
    metrics: [{ event: catalog?.events.find((e) => e.seen)?.name ?? '', filters: [], math: 'total', property: null }],
    group_by: [], granularity: 'day', compare_previous: false, max_rows: 10000,
  }),
  validate,
  charts: ['line', 'bar'],
  Editor,
  View,
}

export default event
