// Funnel page: steps, order, window, exclusions, breakdown, hold constant, step gaps; bars with conversion and
// drop-off, the time-to-convert histogram, persons per step.
import type { FieldErrors, Schemas } from '../../api/client'
import type { ModelDefinition } from '../types'
import { checkBreakdown, checkInteger, checkName, checkScope, checkSelector } from '../../validate'
import Editor from './FunnelEditor.vue'
import View from './FunnelView.vue'

export type FunnelRequest = Schemas['FunnelQuery']

const MAX_WINDOW = 366 * 86400

function validate(request: FunnelRequest, errors: FieldErrors): void {
  checkScope(errors, request)
  if (request.steps.length < 2) errors.steps = 'a funnel has at least 2 steps'
  request.steps.forEach((step, i) => checkSelector(errors, `steps.${i}`, step))
  checkInteger(errors, 'window_seconds', request.window_seconds, 1, MAX_WINDOW)
  request.exclusions?.forEach((exclusion, i) => {
    checkSelector(errors, `exclusions.${i}`, exclusion)
    if (!(exclusion.from_step < exclusion.to_step && exclusion.to_step <= request.steps.length))
      errors[`exclusions.${i}`] = `need from step < to step <= ${request.steps.length} (the step count)`
  })
  if (request.breakdown) checkBreakdown(errors, 'breakdown', request.breakdown)
  if (request.hold_constant) checkName(errors, 'hold_constant', request.hold_constant)
  for (const field of ['min_step_gap_seconds', 'max_step_gap_seconds'] as const) {
    const value = request[field]
    if (value !== null && value !== undefined && !(typeof value === 'number' && value >= 0 && value <= MAX_WINDOW))
      errors[field] = 'a duration from 0 to 366 days'
  }
  const { min_step_gap_seconds: low, max_step_gap_seconds: high } = request
  if (typeof low === 'number' && typeof high === 'number' && low > high) errors.min_step_gap_seconds = 'above the maximum gap'
  checkInteger(errors, 'histogram_bins', request.histogram_bins, 1, 100)
}

const funnel: ModelDefinition<FunnelRequest> = {
  create: (scope, catalog) => {
    const events = (catalog?.events ?? []).filter((event) => event.seen).map((event) => event.name)
    return {
      model: 'funnel', ...scope, filters: [],
      steps: [{ event: events[0] ?? '', filters: [] }, { event: events[1] ?? '', filters: [] }],
      window_seconds: 86400, order: 'ordered', exclusions: [], breakdown: null, hold_constant: null,
      min_step_gap_seconds: null, max_step_gap_seconds: null, histogram_bins: 10,
    }
  },
  validate,
  charts: ['bar'],
  Editor,
  View,
}

export default funnel
