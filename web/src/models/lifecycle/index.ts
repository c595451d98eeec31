// Lifecycle page: new, returning, resurrecting persons per period as stacked bars above the axis and dormant
// ones below it (PostHog's picture); clicking a bar lists its persons.
import type { FieldErrors, Schemas } from '../../api/client'
import type { ModelDefinition } from '../types'
import { checkScope, checkSelector } from '../../validate'
import Editor from './LifecycleEditor.vue'
import View from './LifecycleView.vue'

export type LifecycleRequest = Schemas['LifecycleQuery']

function validate(request: LifecycleRequest, errors: FieldErrors): void {
  checkScope(errors, request)
  checkSelector(errors, 'event', request.event)
}

const lifecycle: ModelDefinition<LifecycleRequest> = {
  create: (scope) => ({ model: 'lifecycle', ...scope, filters: [], event: { event: '$any', filters: [] }, period: 'day' }),
  validate,
  charts: ['bar'],
  Editor,
  View,
}

export default lifecycle
