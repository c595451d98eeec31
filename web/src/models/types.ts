// What a model page module provides. The registry (index.ts) maps a model name from GET /v1/models to one of
// these; ModelPage.vue does everything models share (app, time range, global filters, run, table, CSV, SQL, URL,
// save) and hands the rest to the module's Editor (its request fields) and View (its charts).
import type { Component, InjectionKey, Ref } from 'vue'
import type { FieldErrors } from '../api/client'
import type { ChartKind } from '../charts'
import type { Catalog } from '../store'

export interface Scope {
  app_id: string
  date_from: string
  date_to: string
  timezone: string
}

export interface ModelDefinition<Request extends { model: string } = any> {
  /** A new request of this model for an app and range, with options a first look wants. */
  create(scope: Scope, catalog: Catalog | null): Request
  /** Adds the request's problems to `errors` by dotted field path (as the API's 422 names them). */
  validate(request: Request, errors: FieldErrors): void
  /** The chart types its View draws (loaded ahead while the query runs). */
  charts: ChartKind[]
  /** Form for the model's own fields: props `request` (edited in place). */
  Editor: Component
  /** Charts of a result: props `request`, `result`, `compact`, `listsPersons`; emits `persons` with a persons page. */
  View: Component
}

/** A table view every response carries (the CLI prints it; the page shows it and exports it as CSV). */
export interface TableView {
  columns: string[]
  rows: unknown[][]
}

export interface QueryResult extends TableView {
  model: string
  query_ms?: number
  cached?: boolean
  sql?: Record<string, { sql: string; parameters?: Record<string, unknown> }>
  persons?: { offset: number; persons: string[]; latest_properties?: Record<string, Record<string, string>> } & Record<string, unknown>
  warnings?: { kind: string; name: string; fields: string[]; message: string }[]
  [key: string]: unknown
}

export const ERRORS: InjectionKey<FieldErrors> = Symbol('field errors')
export const CATALOG: InjectionKey<Ref<Catalog | null>> = Symbol('catalog')
