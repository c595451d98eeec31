import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The API server serves dist/ (index.html for every app path, /assets/* immutable); `npm run dev` proxies the API.
export default defineConfig({
  plugins: [vue()],
  build: { target: 'es2022', chunkSizeWarningLimit: 800 },
  server: {
    proxy: Object.fromEntries(['/v1', '/openapi.json', '/healthz'].map((path) => [path, process.env.TRACKFLOW_API_URL ?? 'http://127.0.0.1:8600'])),
  },
})
