// The typed API client: every call names a path of the OpenAPI document (web/openapi.json, generated types in
// schema.d.ts), so a path the server does not document fails `vue-tsc`. Session cookie + CSRF header; any 401
// sends the app back to sign-in.
import createClient from 'openapi-fetch'
import type { components, paths } from './schema'
import { session, signedOut } from '../session'

export type Schemas = components['schemas']
export type AnalysisRequest = Schemas['AnalysisRequest']
export type PropertyFilter = Schemas['PropertyFilter']
/** Any item of a `filters` list: an event property, or (selecting persons) an audience, a CDP tag, a person property. */
export type Filter = PropertyFilter | Schemas['AudienceFilter'] | Schemas['TagFilter'] | Schemas['PersonPropertyFilter']
export type EventSelector = Schemas['EventSelector']

export const api = createClient<paths>({ baseUrl: '' })

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

api.use({
  onRequest({ request }) {
    if (UNSAFE.has(request.method) && session.csrf) request.headers.set('X-CSRF-Token', session.csrf)
    return request
  },
  onResponse({ request, response }) {
    // A failed sign-in is answered on the sign-in form; any other 401 means the session is gone.
    if (response.status === 401 && !new URL(request.url).pathname.startsWith('/v1/auth/')) signedOut()
    return response
  },
})

/** Field path (dotted, as the API names it) -> message. */
export type FieldErrors = Record<string, string>

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields: FieldErrors = {},
    readonly retryAfter: string | null = null,
  ) {
    super(message)
  }
}

interface ErrorBody {
  error?: string
  errors?: { field: string; message: string }[]
}

/** The response body as T, or an ApiFailure carrying the API's message and field-named errors. */
export async function call<T>(pending: Promise<{ data?: unknown; error?: unknown; response: Response }>): Promise<T> {
  let answer
  try {
    answer = await pending
  } catch (exc) {
    throw new ApiFailure(0, `the server cannot be reached (${String(exc)})`)
  }
  const { data, error, response } = answer
  if (response.ok) return data as T
  const body = (error ?? {}) as ErrorBody
  const fields: FieldErrors = {}
  for (const item of body.errors ?? []) fields[item.field] = fields[item.field] ? `${fields[item.field]}; ${item.message}` : item.message
  const message = typeof body.error === 'string' ? body.error : `${response.status} ${response.statusText}`
  throw new ApiFailure(response.status, message, fields, response.headers.get('retry-after'))
}

export function failureText(exc: unknown): string {
  return exc instanceof ApiFailure || exc instanceof Error ? exc.message : String(exc)
}
