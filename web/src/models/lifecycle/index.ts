// Lifecycle page: new, returning, resurrecting persons per period as stacked bars above the axis and dormant
// ones below it (PostHog's picture); clicking a bar lists its persons.
import type { Schemas } from '../../api/client'
import type { ModelDefinition } from '../types'
import { activityEditor, validateActivity } from '../activity'
import View from './LifecycleView.vue'

export type LifecycleRequest = Schemas['LifecycleQuery']

const lifecycle: ModelDefinition<LifecycleRequest> = {
  create: (scope) => ({ model: 'lifecycle', ...scope, filters: [], event: { event: '$any', filters: [] }, period: 'day' }),
  validate: validateActivity,
  charts: ['bar'],
  Editor: activityEditor('A person is active in a period when they did', ['day', 'week', 'month']),
  View,
}

export default lifecycle
