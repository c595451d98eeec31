// Loads the chunks a route will need (its page, its model module and that model's chart types) ahead of time:
// the sign-in page does it for the page it returns to while the user types, so the page after sign-in does not
// wait for them.
import { warmCharts } from './charts'
import { MODEL_PAGES } from './models'
import { router } from './router'

export function prefetchRoute(path: string): void {
  const target = router.resolve(path)
  for (const record of target.matched) {
    const component = record.components?.default
    if (typeof component === 'function') (component as () => Promise<unknown>)().catch(() => {})
  }
  const model = target.params.model
  if (typeof model === 'string' && MODEL_PAGES[model]) {
    MODEL_PAGES[model]()
      .then((module) => warmCharts(module.default.charts))
      .catch(() => {})
  }
}
