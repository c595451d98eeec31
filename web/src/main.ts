import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router'
import { onSignedOut } from './session'
import './style.css'

// Any 401 (expired or ended session) returns to sign-in, keeping the page to come back to.
onSignedOut(() => {
  const here = router.currentRoute.value
  if (here.name !== 'sign-in') void router.push({ name: 'sign-in', query: { next: here.fullPath } })
})

createApp(App).use(router).mount('#app')
