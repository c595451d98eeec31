// Paths page (路径分析): the sequences persons follow from a start event (or that lead to an end event), as a
// sankey of step-by-step edges; clicking an edge lists the persons who took it.
import type { FieldErrors, Schemas } from '../../api/client'
import type { ModelDefinition } from '../types'
import { checkInteger, checkScope, checkSelector } from '../../validate'
import Editor from './PathsEditor.vue'
import View from './PathsView.vue'

export type PathsRequest = Schemas['PathsQuery']

function validate(request: PathsRequest, errors: FieldErrors): void {
  checkScope(errors, request)
  if (request.start && request.end) errors.start = 'choose a start event or an end event, not both'
  else if (request.start) checkSelector(errors, 'start', request.start)
  else if (request.end) checkSelector(errors, 'end', request.end)
  else errors.start = 'choose a start event or an end event'
  checkInteger(errors, 'steps', request.steps, 2, 10)
  checkInteger(errors, 'edges_per_step', request.edges_per_step, 1, 100)
  checkInteger(errors, 'session_gap_seconds', request.session_gap_seconds, 1, 7 * 86400)
  request.cleaning?.forEach((rule, i) => {
    if (!rule.pattern) errors[`cleaning.${i}.pattern`] = 'enter a pattern'
  })
}

const paths: ModelDefinition<PathsRequest> = {
  create: (scope, catalog) => {
    const seen = catalog?.events.find((event) => event.seen)?.name ?? '$any'
    return {
      model: 'paths', ...scope, filters: [], start: { event: seen, filters: [] }, end: null,
      item: 'event', steps: 5, edges_per_step: 5, session_gap_seconds: 1800, cleaning: [],
    }
  },
  validate,
  charts: ['sankey'],
  Editor,
  View,
}

export default paths
