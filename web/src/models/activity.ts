// What lifecycle and stickiness share: one activity event (any event allowed) and a period, so one form and one
// check serve both; each model names its periods and what an active period or day means.
import { h, type FunctionalComponent } from 'vue'
import type { EventSelector, FieldErrors } from '../api/client'
import { checkScope, checkSelector, type ScopeFields } from '../validate'
import ActivityEditor from './ActivityEditor.vue'

export function validateActivity(request: ScopeFields & { event: EventSelector }, errors: FieldErrors): void {
  checkScope(errors, request)
  checkSelector(errors, 'event', request.event)
}

export const activityEditor = (heading: string, periods: string[]): FunctionalComponent<{ request: { event: EventSelector; period?: string } }> =>
  (props) => h(ActivityEditor, { request: props.request, heading, periods })
