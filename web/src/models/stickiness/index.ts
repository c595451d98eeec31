// Stickiness page: per week or month, how many persons were active on exactly 1, 2, … days of it; clicking a
// bar lists those persons.
import type { FieldErrors, Schemas } from '../../api/client'
import type { ModelDefinition } from '../types'
import { checkScope, checkSelector } from '../../validate'
import Editor from './StickinessEditor.vue'
import View from './StickinessView.vue'

export type StickinessRequest = Schemas['StickinessQuery']

function validate(request: StickinessRequest, errors: FieldErrors): void {
  checkScope(errors, request)
  checkSelector(errors, 'event', request.event)
}

const stickiness: ModelDefinition<StickinessRequest> = {
  create: (scope) => ({ model: 'stickiness', ...scope, filters: [], event: { event: '$any', filters: [] }, period: 'week' }),
  validate,
  charts: ['bar'],
  Editor,
  View,
}

export default stickiness
