// Number and duration formats the charts and tables share.
export const percent = (rate: number | null | undefined): string => (rate === null || rate === undefined ? '–' : `${(rate * 100).toFixed(1)}%`)

export const count = (value: number | null | undefined): string => (value === null || value === undefined ? '–' : value.toLocaleString('en-US'))

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '–'
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`
  if (seconds < 86400) return `${(seconds / 3600).toFixed(1)} h`
  return `${(seconds / 86400).toFixed(1)} d`
}

export const bucketLabel = (from: number, to: number | null, format: (value: number) => string = String): string =>
  to === null ? `≥ ${format(from)}` : `${format(from)} – ${format(to)}`

export const PALETTE = ['#4f6bed', '#22a06b', '#e8833a', '#b64fc8', '#d64545', '#2a9fb8', '#8a8f98', '#c9a227']
