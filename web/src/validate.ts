// Checks run before a request is sent, keyed by the same dotted field paths as the API's 422 errors, so one
// error display serves both. They mirror pipelines/analysis/request.py; the API stays the authority.
import type { EventSelector, FieldErrors, Filter, PropertyFilter } from './api/client'
import { isDay } from './timerange'

export const NAME = /^[A-Za-z_$][A-Za-z0-9_$.:\-]{0,99}$/
// Tags and person properties come from outside systems (often Chinese names); audiences are Trackflow's own names.
const PERSON_NAME = /^[\p{L}\p{N}_$][\p{L}\p{N}_$.:\-]{0,99}$/u
const AUDIENCE_NAME = /^[a-z][a-z0-9_]{0,62}$/

/** Which kind of filter an item is, by the key naming its subject (as the API tells them apart). */
export type FilterKind = 'property' | 'audience' | 'tag' | 'person_property'
export const filterKind = (filter: Filter): FilterKind =>
  'audience' in filter ? 'audience' : 'tag' in filter ? 'tag' : 'person_property' in filter ? 'person_property' : 'property'

export type ValueShape = 'one' | 'number' | 'list' | 'pair' | 'none'
export const VALUE_SHAPE: Record<PropertyFilter['op'], ValueShape> = {
  '=': 'one', '!=': 'one', contains: 'one', regex: 'one', '>': 'number', '<': 'number',
  in: 'list', not_in: 'list', between: 'pair', is_set: 'none', is_not_set: 'none',
}

const isNumber = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value)

export function checkName(errors: FieldErrors, path: string, name: unknown, what = 'a name'): void {
  if (typeof name !== 'string' || name === '') errors[path] = `choose ${what}`
  else if (!NAME.test(name)) errors[path] = `${JSON.stringify(name)} is not a valid name (letters, digits, _ $ . : -)`
}

export function checkFilter(errors: FieldErrors, path: string, filter: Filter): void {
  const kind = filterKind(filter)
  if (kind === 'audience') {
    const name = (filter as { audience: string }).audience
    if (!AUDIENCE_NAME.test(name ?? '')) errors[`${path}.audience`] = 'choose an audience'
    return
  }
  if (kind === 'property') checkName(errors, `${path}.property`, (filter as PropertyFilter).property, 'a property')
  else if (!PERSON_NAME.test((filter as Record<string, string>)[kind] ?? '')) errors[`${path}.${kind}`] = `choose a ${kind.replace('_', ' ')}`
  // Tag and person-property filters take a value as property filters do (their ops are a subset).
  const { value, op } = filter as PropertyFilter
  const shape = VALUE_SHAPE[op]
  const problem =
    shape === 'none' ? null
    : shape === 'one' ? (value === null || value === undefined || value === '' ? 'enter a value' : null)
    : shape === 'number' ? (isNumber(value) ? null : `op '${op}' takes a number`)
    : shape === 'list' ? (Array.isArray(value) && value.length ? null : `op '${op}' takes a non-empty list`)
    : Array.isArray(value) && value.length === 2 && value.every(isNumber) ? null : `op 'between' takes [low, high] numbers`
  if (problem) errors[`${path}.value`] = problem
}

/** A breakdown: a property name (checked), or a tag / audience the picker offered. */
export function checkBreakdown(errors: FieldErrors, path: string, breakdown: unknown): void {
  if (typeof breakdown === 'string') checkName(errors, path, breakdown, 'a property')
}

export function checkSelector(errors: FieldErrors, path: string, selector: EventSelector | undefined): void {
  checkName(errors, `${path}.event`, selector?.event, 'an event')
  selector?.filters?.forEach((filter, i) => checkFilter(errors, `${path}.filters.${i}`, filter))
}

export interface ScopeFields {
  app_id?: string
  date_from?: unknown
  date_to?: unknown
  filters?: Filter[]
}

export function checkScope(errors: FieldErrors, request: ScopeFields): void {
  if (!request.app_id) errors.app_id = 'choose an app'
  if (!isDay(request.date_from)) errors.date_from = 'a day as YYYY-MM-DD'
  if (!isDay(request.date_to)) errors.date_to = 'a day as YYYY-MM-DD'
  else if (isDay(request.date_from) && request.date_to < request.date_from) errors.date_to = 'must not be before the start day'
  request.filters?.forEach((filter, i) => checkFilter(errors, `filters.${i}`, filter))
}

/** Whole number in [low, high], or an error message. */
export function checkInteger(errors: FieldErrors, path: string, value: unknown, low: number, high: number): void {
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= low && value <= high))
    errors[path] = `a whole number from ${low} to ${high}`
}

export function checkEdges(errors: FieldErrors, path: string, edges: unknown): void {
  if (!Array.isArray(edges) || !edges.length || !edges.every(isNumber)) errors[path] = 'numbers separated by commas'
  else if (edges.some((edge, i) => i > 0 && edge <= edges[i - 1])) errors[path] = 'bucket edges must be strictly increasing'
}
