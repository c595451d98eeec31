// Time-range presets, resolved to the `date_from`/`date_to` days the analysis requests take (date_to inclusive).

export const PRESETS = {
  today: { label: 'Today', days: 1 },
  last_7_days: { label: 'Last 7 days', days: 7 },
  last_30_days: { label: 'Last 30 days', days: 30 },
  last_90_days: { label: 'Last 90 days', days: 90 },
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
  return { date_from: shiftDay(last, 1 - PRESETS[preset].days), date_to: last }
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
