// Distribution page: how many times each person did an event (or the sum of a numeric property), as a histogram.
import type { FieldErrors, Schemas } from '../../api/client'
import type { ModelDefinition } from '../types'
import { checkEdges, checkName, checkScope, checkSelector } from '../../validate'
import Editor from './DistributionEditor.vue'
import View from './DistributionView.vue'

export type DistributionRequest = Schemas['DistributionQuery']

function validate(request: DistributionRequest, errors: FieldErrors): void {
  checkScope(errors, request)
  checkSelector(errors, 'event', request.event)
  if (request.measure === 'sum') checkName(errors, 'property', request.property, 'a numeric property')
  checkEdges(errors, 'bucket_edges', request.bucket_edges)
}

const distribution: ModelDefinition<DistributionRequest> = {
  create: (scope, catalog) => ({
    model: 'distribution', ...scope, filters: [],
    event: { event: catalog?.events.find((e) => e.seen)?.name ?? '', filters: [] },
    measure: 'count', property: null, bucket_edges: [1, 2, 3, 4, 5, 10, 20, 50, 100],
  }),
  validate,
  charts: ['bar'],
  Editor,
  View,
}

export default distribution
