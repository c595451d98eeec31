// Terminal analysis (终端分析): persons, sessions and events by device, OS, browser, app version, network and
// channel columns (typed at collection); clicking a row lists its persons.
import type { FieldErrors, Schemas } from '../../api/client'
import type { ModelDefinition } from '../types'
import { checkInteger, checkScope, checkSelector } from '../../validate'
import Editor from './TerminalEditor.vue'
import View from './TerminalView.vue'

export type TerminalRequest = Schemas['TerminalQuery']

function validate(request: TerminalRequest, errors: FieldErrors): void {
  checkScope(errors, request)
  if (!request.dimensions.length || request.dimensions.length > 3) errors.dimensions = 'choose 1 to 3 dimensions'
  request.events?.forEach((selector, i) => checkSelector(errors, `events.${i}`, selector))
  checkInteger(errors, 'max_rows', request.max_rows, 1, 1000)
}

const terminal: ModelDefinition<TerminalRequest> = {
  create: (scope) => ({ model: 'terminal', ...scope, filters: [], dimensions: ['platform'], events: [], max_rows: 50 }),
  validate,
  charts: ['bar'],
  Editor,
  View,
}

export default terminal
