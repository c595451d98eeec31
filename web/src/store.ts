// What every page reads once per session: the analysis models, the apps, each app's event catalog.
import { api, call } from './api/client'

export interface ModelInfo {
  model: string
  summary: string
  lists_persons: boolean
}
export interface AppInfo {
  app_id: string
  in_plan: boolean
  seen: boolean
}
export type PropertyType = 'string' | 'number' | 'boolean' | 'datetime'
export interface CatalogProperty {
  name: string
  type: PropertyType
  in_plan: boolean
  seen: boolean
}
export interface CatalogEvent {
  name: string
  description?: string | null
  in_plan: boolean
  seen: boolean
  count_30d: number
  properties: CatalogProperty[]
}
export interface Catalog {
  app_id: string
  events: CatalogEvent[]
  /** Fields every event has (platform, os, utm_source, ...). */
  context_properties: CatalogProperty[]
  /** What person-level filters may name: audiences (current version, persons), CDP tags, person properties. */
  audiences?: { name: string; version: number; size: number }[]
  tags?: string[]
  person_properties?: string[]
}

let models: Promise<ModelInfo[]> | null = null
let apps: Promise<AppInfo[]> | null = null
const catalogs = new Map<string, Promise<Catalog>>()

function remembered<T>(load: () => Promise<T>, forget: () => void): Promise<T> {
  const pending = load()
  pending.catch(forget) // a failed load (signed out, server away) is tried again next time
  return pending
}

export function modelList(): Promise<ModelInfo[]> {
  models ??= remembered(async () => (await call<{ models: ModelInfo[] }>(api.GET('/v1/models'))).models, () => (models = null))
  return models
}

export function appList(): Promise<AppInfo[]> {
  apps ??= remembered(async () => (await call<{ apps: AppInfo[] }>(api.GET('/v1/apps'))).apps, () => (apps = null))
  return apps
}

export function catalogOf(appId: string): Promise<Catalog> {
  let pending = catalogs.get(appId)
  if (!pending) {
    pending = remembered(
      () => call<Catalog>(api.GET('/v1/catalog/{app_id}', { params: { path: { app_id: appId } } })),
      () => catalogs.delete(appId),
    )
    catalogs.set(appId, pending)
  }
  return pending
}

/** Forget everything read under the previous user (sign-out). */
export function forgetAll(): void {
  models = apps = null
  catalogs.clear()
}

/** The properties of some events (all events when none given), each name once, typed as the catalog says; then
 * the context fields every event has that the app's events carry. */
export function propertiesOf(catalog: Catalog | null, events: string[] = []): CatalogProperty[] {
  const byName = new Map<string, CatalogProperty>()
  for (const event of catalog?.events ?? []) {
    if (events.length && !events.includes(event.name)) continue
    for (const property of event.properties) if (!byName.has(property.name)) byName.set(property.name, property)
  }
  const own = [...byName.values()].sort((a, b) => a.name.localeCompare(b.name))
  const context = (catalog?.context_properties ?? []).filter((p) => p.seen && !byName.has(p.name))
  return [...own, ...context]
}
