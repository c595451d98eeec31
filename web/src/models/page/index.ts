// Page analysis (页面分析): per page views, persons, entries, exits, bounce and exit rates, time on page and
// scroll depth, a daily trend and the previous period; clicking a page lists the persons who viewed it.
import type { FieldErrors, Schemas } from '../../api/client'
import type { ModelDefinition } from '../types'
import { checkInteger, checkName, checkScope, checkSelector } from '../../validate'
import Editor from './PageEditor.vue'
import View from './PageView.vue'

export type PageRequest = Schemas['PageQuery']

function validate(request: PageRequest, errors: FieldErrors): void {
  checkScope(errors, request)
  if (request.page_view) checkSelector(errors, 'page_view', request.page_view)
  if (request.leave_event) checkSelector(errors, 'leave_event', request.leave_event)
  if (request.scroll_event) checkSelector(errors, 'scroll_event', request.scroll_event)
  if (request.scroll_property) checkName(errors, 'scroll_property', request.scroll_property)
  checkInteger(errors, 'max_pages', request.max_pages, 1, 1000)
  checkInteger(errors, 'session_gap_seconds', request.session_gap_seconds, 1, 86400)
  request.cleaning?.forEach((rule, i) => {
    if (!rule.pattern) errors[`cleaning.${i}.pattern`] = 'enter a pattern'
  })
}

const page: ModelDefinition<PageRequest> = {
  create: (scope) => ({
    model: 'page', ...scope, filters: [], page_view: { event: 'page_view', filters: [] }, by: 'url_path', cleaning: [],
    compare_previous: true, max_pages: 20, session_gap_seconds: 1800, trend: true, leave_event: null, scroll_event: null,
  }),
  validate,
  charts: ['line'],
  Editor,
  View,
}

export default page
