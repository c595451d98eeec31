// At most a few dashboard queries run at once, so a large dashboard does not queue the warehouse behind it.
const MAX_RUNNING = 3
let running = 0
const waiting: (() => void)[] = []

export async function limited<T>(task: () => Promise<T>): Promise<T> {
  if (running >= MAX_RUNNING) await new Promise<void>((resolve) => waiting.push(resolve))
  running++
  try {
    return await task()
  } finally {
    running--
    waiting.shift()?.()
  }
}
