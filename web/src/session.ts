// Who is signed in, the CSRF token of the session, and the way back to sign-in on any 401.
import { reactive } from 'vue'

export interface User {
  username: string
  role: 'analyst' | 'admin'
}

export const session = reactive({ user: null as User | null, csrf: '', checked: false })

let toSignIn: () => void = () => {}

/** main.ts wires this to the router (kept apart so the API client does not import the router). */
export function onSignedOut(handler: () => void): void {
  toSignIn = handler
}

export function signedIn(user: User, csrf: string): void {
  Object.assign(session, { user, csrf, checked: true })
}

export function signedOut(): void {
  const wasSignedIn = session.user !== null
  Object.assign(session, { user: null, csrf: '', checked: true })
  if (wasSignedIn || session.checked) toSignIn()
}

export const isAdmin = (): boolean => session.user?.role === 'admin'
