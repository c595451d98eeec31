import { createRouter, createWebHistory } from 'vue-router'
import { api, call } from './api/client'
import { session, signedIn, type User } from './session'

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', redirect: '/dashboards' },
    { path: '/sign-in', name: 'sign-in', component: () => import('./pages/SignIn.vue'), meta: { bare: true, public: true } },
    // Before /analysis/:model: a chain is a page of its own, not a model module (saved chains open here too).
    { path: '/analysis/chain', component: () => import('./pages/ChainPage.vue') },
    { path: '/analysis/:model', component: () => import('./pages/ModelPage.vue'), props: true },
    { path: '/plan', component: () => import('./pages/PlanPage.vue') },
    { path: '/dashboards', component: () => import('./pages/DashboardsPage.vue') },
    { path: '/monitoring', component: () => import('./pages/MonitoringPage.vue') },
    { path: '/audiences', component: () => import('./pages/AudiencesPage.vue') },
    { path: '/dashboards/:id', component: () => import('./pages/DashboardPage.vue'), props: true },
    { path: '/:rest(.*)*', component: () => import('./pages/NotFound.vue') },
  ],
})

router.beforeEach(async (to) => {
  if (!session.checked) {
    try {
      const me = await call<{ user: User; csrf_token: string }>(api.GET('/v1/auth/me'))
      signedIn(me.user, me.csrf_token)
    } catch {
      session.checked = true
    }
  }
  if (!to.meta.public && !session.user) return { name: 'sign-in', query: { next: to.fullPath } }
  return true
})
