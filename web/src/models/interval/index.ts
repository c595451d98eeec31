// Interval page (间隔分析): time from a start event to the next end event; percentiles as a box per group and a
// histogram.
import type { FieldErrors, Schemas } from '../../api/client'
import type { ModelDefinition } from '../types'
import { checkBreakdown, checkEdges, checkName, checkScope, checkSelector } from '../../validate'
import Editor from './IntervalEditor.vue'
import View from './IntervalView.vue'

export type IntervalRequest = Schemas['IntervalQuery']

function validate(request: IntervalRequest, errors: FieldErrors): void {
  checkScope(errors, request)
  checkSelector(errors, 'start', request.start)
  checkSelector(errors, 'end', request.end)
  if (request.same_property) checkName(errors, 'same_property', request.same_property)
  if (request.group_by) checkBreakdown(errors, 'group_by', request.group_by)
  checkEdges(errors, 'bucket_edges_seconds', request.bucket_edges_seconds)
}

const interval: ModelDefinition<IntervalRequest> = {
  create: (scope, catalog) => {
    const seen = (catalog?.events ?? []).filter((e) => e.seen).map((e) => e.name)
    return {
      model: 'interval', ...scope, filters: [],
      start: { event: seen[0] ?? '', filters: [] }, end: { event: seen[1] ?? seen[0] ?? '', filters: [] },
      same_property: null, group_by: null,
      bucket_edges_seconds: [0, 60, 300, 900, 3600, 21600, 86400, 259200, 604800, 2592000],
    }
  },
  validate,
  charts: ['boxplot', 'bar'],
  Editor,
  View,
}

export default interval
