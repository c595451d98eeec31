// The chart types a page may draw, each its own chunk (echarts/core plus that chart), and a way to start loading
// them before the chart mounts (while the query runs, or while the user signs in).
export type ChartKind = 'line' | 'bar' | 'boxplot' | 'sankey'

export const CHART_LOADERS: Record<ChartKind, () => Promise<unknown>> = {
  line: () => import('./line'),
  bar: () => import('./bar'),
  boxplot: () => import('./boxplot'),
  sankey: () => import('./sankey'),
}

export const loadCore = () => import('./core')

export function warmCharts(kinds: ChartKind[]): void {
  loadCore().catch(() => {})
  for (const kind of kinds) CHART_LOADERS[kind]().catch(() => {})
}
