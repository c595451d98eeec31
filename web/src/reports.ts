// Saved reports and dashboards as the API returns them, and the dashboard's time range applied to a request.
import { api, call } from './api/client'
import { PRESETS, presetRange, type Preset } from './timerange'

export interface Report {
  id: string
  name: string
  model: string
  request: Record<string, unknown> & { model: string; timezone?: string }
  owner: string
  shared: boolean
  version: number
  created_at: string
  updated_at: string
}
export type TimeRangeSpec = ({ from: string; to: string } | { preset: string }) & { timezone?: string | null }
export interface DashboardItem {
  report_id: string
  x: number
  y: number
  w: number
  h: number
  report?: Report
}
export interface Dashboard {
  id: string
  name: string
  owner: string
  shared: boolean
  version: number
  time_range: TimeRangeSpec | null
  items: DashboardItem[]
  created_at: string
  updated_at: string
}

export const listReports = async () => (await call<{ reports: Report[] }>(api.GET('/v1/reports'))).reports
export const listDashboards = async () => (await call<{ dashboards: Dashboard[] }>(api.GET('/v1/dashboards'))).dashboards
export const getDashboard = (id: string) => call<Dashboard>(api.GET('/v1/dashboards/{id}', { params: { path: { id } } }))

export function saveDashboard(dashboard: Dashboard): Promise<Dashboard> {
  const items = dashboard.items.map(({ report_id, x, y, w, h }) => ({ report_id, x, y, w, h }))
  const body = { name: dashboard.name, time_range: dashboard.time_range, items, version: dashboard.version }
  return call<Dashboard>(api.PUT('/v1/dashboards/{id}', { params: { path: { id: dashboard.id } }, body: body as never }))
}

/** Dashboard tiles flow two to a row, each half the 12-column grid wide. */
export const TILE_W = 6
export function flowLayout(items: DashboardItem[]): DashboardItem[] {
  return items.map((item, i) => ({ ...item, x: (i % 2) * TILE_W, y: Math.floor(i / 2), w: TILE_W, h: 1 }))
}

export async function addToDashboard(dashboardId: string, reportId: string): Promise<Dashboard> {
  const dashboard = await getDashboard(dashboardId)
  dashboard.items = flowLayout([...dashboard.items, { report_id: reportId, x: 0, y: 0, w: TILE_W, h: 1 }])
  return saveDashboard(dashboard)
}

/** A report's request run over the dashboard's range, in the range's timezone if it names one, else the report's. */
export function withRange(request: Report['request'], range: TimeRangeSpec | null): Report['request'] {
  if (!range) return request
  const timezone = range.timezone ?? request.timezone ?? 'UTC'
  if ('preset' in range) {
    if (!(range.preset in PRESETS)) return request
    return { ...request, timezone, ...presetRange(range.preset as Preset, timezone) }
  }
  return { ...request, timezone, date_from: range.from, date_to: range.to }
}
