// Time-range presets, resolved to the `date_from`/`date_to` days the analysis requests take (date_to inclusive).

// The presets the API's dashboards take (pipelines/workbench): each resolves to whole days in a timezone.
export const PRESETS = {
  today: { label: 'Today' },
  yesterday: { label: 'Yesterday' },
  last_7_days: { label: 'Last 7 days' },
  last_14_days: { label: 'Last 14 days' },
  last_30_days: { label: 'Last 30 days' },
  last_90_days: { label: 'Last 90 days' },
  last_180_days: { label: 'Last 180 days' },
  last_365_days: { label: 'Last 365 days' },
  this_month: { label: 'This month' },
  last_month: { label: 'Last month' },
} as const
export type Preset = keyof typeof PRESETS

export interface DayRange {
  date_from: string
  date_to: string
}

/** Today's date in a timezone, as YYYY-MM-DD. */
export function today(timezone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date())
}

export function shiftDay(day: string, days: number): string {
  const date = new Date(`${day}T00:00:00Z`)
  date.setUTCDate(date.getUTCDate() + days)
  return date.toISOString().slice(0, 10)
}

export function presetRange(preset: Preset, timezone: string): DayRange {
  const last = today(timezone)
  const monthStart = `${last.slice(0, 8)}01`
  if (preset === 'today') return { date_from: last, date_to: last }
  if (preset === 'yesterday') return { date_from: shiftDay(last, -1), date_to: shiftDay(last, -1) }
  if (preset === 'this_month') return { date_from: monthStart, date_to: last }
  if (preset === 'last_month') {
    const end = shiftDay(monthStart, -1)
    return { date_from: `${end.slice(0, 8)}01`, date_to: end }
  }
  const days = Number(preset.split('_')[1])
  return { date_from: shiftDay(last, 1 - days), date_to: last }
}

export function browserTimezone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
}

export function timezones(): string[] {
  const supported = (Intl as unknown as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf
  return ['UTC', ...(supported ? supported('timeZone').filter((zone) => zone !== 'UTC') : [])]
}

const DAY = /^\d{4}-\d{2}-\d{2}$/

export function isDay(value: unknown): value is string {
  return typeof value === 'string' && DAY.test(value) && !Number.isNaN(Date.parse(`${value}T00:00:00Z`))
}
