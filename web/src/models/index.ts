// The model pages: one line each. A model the API lists at GET /v1/models gets a page when it has a line here;
// a new model is its module (a ModelDefinition: create, validate, Editor, View) plus one line. Each module
// loads with its page.
import type { ModelDefinition } from './types'

export const MODEL_PAGES: Record<string, () => Promise<{ default: ModelDefinition }>> = {
  event: () => import('./event'),
  funnel: () => import('./funnel'),
  retention: () => import('./retention'),
  interval: () => import('./interval'),
  distribution: () => import('./distribution'),
  paths: () => import('./paths'),
  lifecycle: () => import('./lifecycle'),
  stickiness: () => import('./stickiness'),
  page: () => import('./page'),
  terminal: () => import('./terminal'),
}
