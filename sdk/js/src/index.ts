// Trackflow web SDK: queues events, sends them in batches to the collector (POST /v1/batch), keeps the queue in
// localStorage across reloads, retries with exponential backoff, and hands what is left to navigator.sendBeacon
// when the page is hidden or unloaded. Automatic page views (including SPA route changes), clicks with
// heatmap coordinates and scroll depth. Envelope: docs/collector.md.

export interface Options {
  endpoint: string; // collector base URL, e.g. https://collect.example.com
  appKey: string;
  batchSize?: number; // send when this many events are queued
  flushInterval?: number; // ms; send at least this often while events are queued
  sessionTimeout?: number; // ms of inactivity that ends a session
  autoPageview?: boolean;
  clicks?: boolean;
  scroll?: boolean;
  maxQueue?: number; // oldest events are dropped above this (a page offline for days must not fill storage)
}

type Props = Record<string, unknown>;
interface Envelope {
  event_id: string;
  event: string;
  ts: number;
  ids: Record<string, string>;
  session_id: string;
  context: Record<string, unknown>;
  props: Props;
}
interface Session {
  id: string;
  last: number;
}

const LIB = "trackflow-js";
const VERSION = "0.1.0";
const KEY = "tf_";
const BEACON_LIMIT = 60000; // browsers cap a beacon near 64 KB
const SCROLL_MARKS = [25, 50, 75, 100];
// data-* attributes that name an element stably across deploys (unlike positions or generated classes)
const STABLE_ATTRS = ["data-track", "data-testid", "data-id", "data-action", "name"];

const w = window;
const doc = document;

function store(name: string, value?: unknown): any {
  try {
    if (value === undefined) {
      const raw = localStorage.getItem(KEY + name);
      return raw ? JSON.parse(raw) : null;
    }
    localStorage.setItem(KEY + name, JSON.stringify(value));
  } catch (e) {
    // storage full or disabled (private mode): keep working from memory
  }
  return null;
}

function uuid(): string {
  const c = w.crypto;
  if (c && c.randomUUID) return c.randomUUID();
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 15) | 64;
  b[8] = (b[8] & 63) | 128;
  const h = Array.from(b, (x) => (x + 256).toString(16).slice(1)).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A CSS-like path from the element up to the nearest ancestor with an id (at most 6 steps), preferring ids
 * and stable data-* attributes over positions so heatmaps survive layout changes. */
export function elementPath(el: Element | null): string {
  const parts: string[] = [];
  for (let depth = 0; el && el.nodeType === 1 && depth < 6; depth++, el = el.parentElement) {
    const tag = el.tagName.toLowerCase();
    if (el.id) {
      parts.unshift(`${tag}#${el.id}`);
      break;
    }
    const attr = STABLE_ATTRS.find((a) => el!.hasAttribute(a));
    if (attr) {
      parts.unshift(`${tag}[${attr}="${el.getAttribute(attr)}"]`);
      continue;
    }
    const parent: Element | null = el.parentElement;
    const same = parent ? Array.from(parent.children).filter((c) => c.tagName === el!.tagName) : [];
    parts.unshift(same.length > 1 ? `${tag}:nth-of-type(${same.indexOf(el) + 1})` : tag);
  }
  return parts.join(">");
}

export class Tracker {
  private o: Required<Options>;
  private queue: Envelope[];
  private inflight = false;
  private backoff = 0; // ms; grows on failures, reset on success
  private retryAt = 0;
  private timer: number | undefined;
  private ids: Record<string, string>;
  private session: Session;
  private scrollMax = 0;

  constructor(options: Options) {
    this.o = {
      batchSize: 20,
      flushInterval: 3000,
      sessionTimeout: 30 * 60 * 1000,
      autoPageview: true,
      clicks: true,
      scroll: true,
      maxQueue: 1000,
      ...options,
    };
    this.o.endpoint = this.o.endpoint.replace(/\/$/, "");
    this.queue = store("queue") || [];
    this.ids = store("ids") || {};
    if (!this.ids.device_id) this.ids.device_id = uuid();
    store("ids", this.ids);
    this.session = store("session") || { id: "", last: 0 };
    this.listen();
    if (this.o.autoPageview) this.pageview();
    this.schedule();
  }

  /** Queue an event; it is sent with the next batch. */
  track(event: string, props: Props = {}, context: Props = {}): string {
    const now = Date.now();
    const newSession = !this.session.id || now - this.session.last > this.o.sessionTimeout;
    if (newSession) this.session = { id: uuid(), last: now };
    this.session.last = now;
    store("session", this.session);
    const ctx: Props = {
      platform: "web",
      url: location.href,
      title: doc.title,
      referrer: doc.referrer,
      lib: LIB,
      lib_version: VERSION,
      ...context,
    };
    // Big fields that never change within a session travel once; the collector remembers them per session.
    if (newSession) Object.assign(ctx, { ua: navigator.userAgent, screen: `${screen.width}x${screen.height}`, language: navigator.language });
    const envelope: Envelope = { event_id: uuid(), event, ts: now, ids: { ...this.ids }, session_id: this.session.id, context: ctx, props };
    this.queue.push(envelope);
    if (this.queue.length > this.o.maxQueue) this.queue.splice(0, this.queue.length - this.o.maxQueue);
    store("queue", this.queue);
    if (this.queue.length >= this.o.batchSize) this.flush();
    return envelope.event_id;
  }

  /** Link the signed-in user to this device: later events carry user_id, and an `identify` event records the link. */
  identify(userId: string): void {
    this.ids.user_id = String(userId);
    store("ids", this.ids);
    this.track("identify");
  }

  /** Forget the user (sign-out): a new session starts, the device id stays. */
  reset(): void {
    delete this.ids.user_id;
    store("ids", this.ids);
    this.session = { id: "", last: 0 };
  }

  pageview(props: Props = {}): void {
    this.scrollMax = 0;
    this.track("page_view", { path: location.pathname, ...props });
  }

  get pending(): number {
    return this.queue.length;
  }

  get deviceId(): string {
    return this.ids.device_id;
  }

  /** Send up to one batch now (fetch with keepalive); failures keep the events queued and back off. */
  flush(): Promise<void> {
    if (this.inflight || !this.queue.length || Date.now() < this.retryAt) return Promise.resolve();
    const batch = this.queue.slice(0, this.o.batchSize);
    this.inflight = true;
    return fetch(`${this.o.endpoint}/v1/batch`, {
      method: "POST",
      keepalive: true,
      headers: { "Content-Type": "application/json", "X-App-Key": this.o.appKey },
      body: JSON.stringify(batch),
    })
      .then((r) => {
        // 200 delivered, 202 spooled by the collector: both are safe. Other 4xx will never succeed: drop them
        // rather than block the queue. 408/429/5xx: retry later.
        const retry = r.status === 408 || r.status === 429 || r.status >= 500;
        if (retry) throw r.status;
        this.done(batch);
      })
      .catch(() => {
        this.backoff = Math.min(60000, this.backoff ? this.backoff * 2 : 1000);
        this.retryAt = Date.now() + this.backoff * (0.5 + Math.random() / 2);
      })
      .then(() => {
        this.inflight = false;
        if (this.queue.length >= this.o.batchSize && Date.now() >= this.retryAt) this.flush();
      });
  }

  private done(sent: Envelope[]): void {
    const ids = new Set(sent.map((e) => e.event_id));
    this.queue = this.queue.filter((e) => !ids.has(e.event_id));
    store("queue", this.queue);
    this.backoff = 0;
    this.retryAt = 0;
  }

  /** The page is going away: hand every queued event to the browser, which delivers beacons after unload. */
  beacon(): void {
    if (!navigator.sendBeacon) return;
    const url = `${this.o.endpoint}/v1/batch?key=${encodeURIComponent(this.o.appKey)}`;
    let chunk: Envelope[] = [];
    const sent: Envelope[] = [];
    const send = () => {
      // text/plain keeps the beacon a "simple" request: no CORS preflight that could be cut off by the unload
      if (chunk.length && navigator.sendBeacon(url, new Blob([JSON.stringify(chunk)], { type: "text/plain" }))) sent.push(...chunk);
      chunk = [];
    };
    for (const e of this.queue) {
      if (JSON.stringify(chunk.concat(e)).length > BEACON_LIMIT) send();
      chunk.push(e);
    }
    send();
    // Accepted beacons leave the persisted queue; a refused one stays for the next page load (same event_id,
    // so a double delivery is collapsed downstream).
    this.done(sent);
  }

  private schedule(): void {
    clearInterval(this.timer);
    this.timer = w.setInterval(() => this.flush(), this.o.flushInterval);
  }

  private listen(): void {
    const hide = () => {
      if (this.o.scroll) this.reportScroll();
      this.beacon();
    };
    doc.addEventListener("visibilitychange", () => doc.visibilityState === "hidden" && hide());
    w.addEventListener("pagehide", hide);
    if (this.o.autoPageview) {
      // Single-page apps change routes without loading a page: count those as page views too.
      for (const name of ["pushState", "replaceState"] as const) {
        const original = history[name];
        history[name] = function (this: History, ...args: any[]) {
          const before = location.pathname;
          const result = original.apply(this, args as any);
          if (location.pathname !== before) tracker && tracker.pageview();
          return result;
        } as any;
      }
      w.addEventListener("popstate", () => this.pageview());
    }
    if (this.o.clicks) {
      doc.addEventListener(
        "click",
        (e: MouseEvent) => {
          const target = e.target as Element;
          const link = target && target.closest ? target.closest("a") : null;
          const props: Props = {
            x: Math.round(e.pageX),
            y: Math.round(e.pageY),
            element_path: elementPath(target),
            element_text: ((target as HTMLElement).innerText || "").trim().slice(0, 100),
          };
          if (link && link.href) props.href = link.href;
          this.track("click", props, { viewport: `${w.innerWidth}x${w.innerHeight}`, page_height: doc.documentElement.scrollHeight });
        },
        true,
      );
    }
    if (this.o.scroll) {
      let ticking = false;
      w.addEventListener(
        "scroll",
        () => {
          if (ticking) return;
          ticking = true;
          // at most one measurement per frame: scroll events fire far more often than the screen repaints
          w.requestAnimationFrame(() => {
            ticking = false;
            this.reportScroll();
          });
        },
        { passive: true },
      );
    }
  }

  private reportScroll(): void {
    const height = doc.documentElement.scrollHeight;
    const depth = Math.min(100, Math.round(((w.scrollY + w.innerHeight) / Math.max(height, 1)) * 100));
    for (const mark of SCROLL_MARKS) {
      if (depth >= mark && this.scrollMax < mark) this.track("scroll_depth", { depth: mark, path: location.pathname });
    }
    this.scrollMax = Math.max(this.scrollMax, depth);
  }
}

let tracker: Tracker | null = null;

/** Create the page's tracker (once; later calls return the same one). */
export function init(options: Options): Tracker {
  if (!tracker) tracker = new Tracker(options);
  return tracker;
}
