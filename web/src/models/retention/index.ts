// Retention page: initial and returning events, first-time or recurring cohorts, period and how many; a cohort
// table shaded by rate whose cells list their persons (when the API pages them).
import type { FieldErrors, Schemas } from '../../api/client'
import type { ModelDefinition } from '../types'
import { checkInteger, checkScope, checkSelector } from '../../validate'
import Editor from './RetentionEditor.vue'
import View from './RetentionView.vue'

export type RetentionRequest = Schemas['RetentionQuery']

function validate(request: RetentionRequest, errors: FieldErrors): void {
  checkScope(errors, request)
  checkSelector(errors, 'initial', request.initial)
  checkSelector(errors, 'returning', request.returning)
  checkInteger(errors, 'periods', request.periods, 1, 120)
}

const retention: ModelDefinition<RetentionRequest> = {
  create: (scope, catalog) => {
    const first = catalog?.events.find((event) => event.seen)?.name ?? ''
    return {
      model: 'retention', ...scope, filters: [],
      initial: { event: first, filters: [] }, returning: { event: first, filters: [] },
      period: 'day', periods: 7, mode: 'recurring',
    }
  },
  validate,
  charts: [],
  Editor,
  View,
}

export default retention
