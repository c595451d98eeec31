// Stickiness page: per week or month, how many persons were active on exactly 1, 2, … days of it; clicking a
// bar lists those persons.
import type { Schemas } from '../../api/client'
import type { ModelDefinition } from '../types'
import { activityEditor, validateActivity } from '../activity'
import View from './StickinessView.vue'

export type StickinessRequest = Schemas['StickinessQuery']

const stickiness: ModelDefinition<StickinessRequest> = {
  create: (scope) => ({ model: 'stickiness', ...scope, filters: [], event: { event: '$any', filters: [] }, period: 'week' }),
  validate: validateActivity,
  charts: ['bar'],
  Editor: activityEditor('A day counts when the person did', ['week', 'month']),
  View,
}

export default stickiness
