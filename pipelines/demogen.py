"""Demo data generator (`trackflow demo generate`): a realistic shop app on web, H5 and native apps.

Persons browse in sessions (page views, clicks, searches, product views); some sessions go on to add to cart,
order and pay. Persons use 1-3 devices; those who sign up log in, after which their events also carry a
user_id. The events carry the OneID of their person (as if identity resolution had already linked the devices),
so person-level analyses see one person per human. Activity follows a weekly rhythm (busier weekends) and a
daily one (lunch and evening peaks). Generation is vectorised with numpy: about a million events in seconds.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.envelope import DETAIL_COLUMNS, TERMINAL_TEXT
from pipelines.warehouse.eventindex import EventIndex

DEMO_APP = "demo-shop"
BROWSE_EVENTS = np.array(["page_view", "click", "search", "product_view"])
BROWSE_WEIGHTS = np.array([0.4, 0.25, 0.1, 0.25])
WEEKDAY_WEIGHTS = np.array([0.9, 0.92, 0.95, 1.0, 1.1, 1.3, 1.25])  # Monday .. Sunday
PLATFORMS = np.array(["web", "h5", "ios", "android"])
PLATFORM_OS = {"web": "Windows", "h5": "Android", "ios": "iOS", "android": "Android"}
SEARCH_TERMS = np.array(["shoes", "phone case", "coffee", "headphones", "tea", "backpack", "lamp", "t-shirt"])
CATEGORIES = np.array(["shoes", "electronics", "food", "home", "apparel", "books", "toys", "beauty"])
CART_RATE, ORDER_RATE, PAY_RATE = 0.3, 0.5, 0.85  # of sessions with a product view / cart / order
SIGNUP_RATE = 0.4
PRODUCT_EVENTS = frozenset({"product_view", "add_to_cart", "order", "pay"})


@dataclass(frozen=True)
class DemoSpec:
    events: int = 1_000_000
    persons: int = 50_000
    days: int = 60
    end: dt.date | None = None  # last day (UTC); default today
    app_id: str = DEMO_APP
    seed: int = 42
    products: int = 2_000
    first_person: int = 0  # person numbers start here (generate big sets in chunks of distinct persons)


def _session_starts(rng: np.random.Generator, spec: DemoSpec, count: int) -> np.ndarray:
    """Epoch ms of session starts with weekly and daily seasonality."""
    end = spec.end or dt.datetime.now(dt.timezone.utc).date()
    first = np.datetime64(end - dt.timedelta(days=spec.days - 1))
    days = first + np.arange(spec.days).astype("timedelta64[D]")
    weekday = (days.astype("datetime64[D]").view("int64") - 4) % 7  # 1970-01-01 was a Thursday
    day = rng.choice(days, size=count, p=WEEKDAY_WEIGHTS[weekday] / WEEKDAY_WEIGHTS[weekday].sum())
    # Lunch and evening peaks (UTC hours of a China-based shop would shift; the shape is what matters).
    hour = np.where(rng.random(count) < 0.4, rng.normal(12.5, 1.5, count), rng.normal(20.5, 2.0, count)) % 24
    return day.astype("datetime64[ms]").view("int64") + (hour * 3_600_000).astype(np.int64)


def generate_frame(spec: DemoSpec) -> pd.DataFrame:
    """The demo events as a frame of DETAIL_COLUMNS (detail-table rows), sorted by time."""
    rng = np.random.default_rng(spec.seed)
    mean_session = 6.0
    sessions = max(spec.persons, int(spec.events / mean_session * 1.05))  # a margin; trimmed to size below
    # Everyone has a first session; the rest follow a heavy-tailed activity (a few persons do many sessions).
    activity = rng.lognormal(0, 1.2, spec.persons)
    session_person = np.concatenate(
        [rng.permutation(spec.persons), rng.choice(spec.persons, size=sessions - spec.persons, p=activity / activity.sum())]
    )
    devices_of = rng.integers(1, 4, spec.persons)
    session_device = (rng.random(sessions) * devices_of[session_person]).astype(np.int64)
    session_start = _session_starts(rng, spec, sessions)
    browse_len = 1 + rng.geometric(1 / mean_session, sessions) - 1

    # Browse events: one row per (session, position); then the buying tail for some sessions.
    session_of = np.repeat(np.arange(sessions), browse_len)
    position = np.arange(len(session_of)) - np.repeat(np.cumsum(browse_len) - browse_len, browse_len)
    names = rng.choice(BROWSE_EVENTS, size=len(session_of), p=BROWSE_WEIGHTS)
    names[position == 0] = "page_view"
    viewed = np.zeros(sessions, bool)
    viewed[session_of[names == "product_view"]] = True
    cart = viewed & (rng.random(sessions) < CART_RATE)
    order = cart & (rng.random(sessions) < ORDER_RATE)
    pay = order & (rng.random(sessions) < PAY_RATE)
    tails = [(np.flatnonzero(flag), name) for flag, name in ((cart, "add_to_cart"), (order, "order"), (pay, "pay"))]
    session_of = np.concatenate([session_of] + [s for s, _ in tails])
    position = np.concatenate([position] + [browse_len[s] + k for k, (s, _) in enumerate(tails)])
    names = np.concatenate([names] + [np.full(len(s), n) for s, n in tails])

    # Sign-up: in the first session of persons who register, after which they are logged in.
    registered = rng.random(spec.persons) < SIGNUP_RATE
    first_session = pd.Series(np.arange(sessions)).groupby(session_person).first()
    signup_sessions = first_session[registered[first_session.index]].to_numpy()
    session_of = np.concatenate([session_of, signup_sessions])
    position = np.concatenate([position, np.ones(len(signup_sessions), np.int64)])
    names = np.concatenate([names, np.full(len(signup_sessions), "sign_up")])

    if len(names) > spec.events:  # trim to the requested size, keeping sessions whole where possible
        keep = np.sort(rng.choice(len(names), spec.events, replace=False))
        session_of, position, names = session_of[keep], position[keep], names[keep]
    n = len(names)
    gaps = rng.exponential(40_000, n).astype(np.int64) + 1_000
    ts = session_start[session_of] + position * 45_000 + gaps % 45_000
    person = session_person[session_of] + spec.first_person
    device = session_device[session_of]
    platform_of_device = PLATFORMS[(person * 7 + device * 3) % len(PLATFORMS)]
    signup_time = pd.Series(ts[names == "sign_up"]).groupby(person[names == "sign_up"]).min()
    signed_up_at = np.full(spec.persons, np.iinfo(np.int64).max)
    signed_up_at[signup_time.index.to_numpy() - spec.first_person] = signup_time.to_numpy()
    logged_in = ts >= signed_up_at[person - spec.first_person]

    product = np.minimum(rng.zipf(1.3, n), spec.products) - 1
    # What goes into the cart, is ordered and paid is the product last viewed in that session.
    viewed_product = pd.Series(product[names == "product_view"]).groupby(session_of[names == "product_view"]).last()
    buying = np.isin(names, ["add_to_cart", "order", "pay"]) & np.isin(session_of, viewed_product.index)
    product[buying] = viewed_product.reindex(session_of[buying]).to_numpy()
    device_id = np.char.add(np.char.add(np.char.add("d", person.astype(str)), "-"), device.astype(str))
    user_id = np.char.add("u", person.astype(str))
    person_id = np.where(logged_in, np.char.add("user_id:", user_id), np.char.add("device_id:", device_id))
    oneid = np.char.add("oneid:", person.astype(str))

    # Property maps are shared per product / search term (read-only afterwards), which keeps this fast.
    product_props = [
        {"product_id": f"sku{p}", "category": str(CATEGORIES[p % len(CATEGORIES)]), "price": f"{5 + (p * 7919 % 500) + 0.99:.2f}"}
        for p in range(spec.products)
    ]
    search_props = [{"search_term": str(term)} for term in SEARCH_TERMS]
    no_props: dict = {}
    terms = rng.integers(0, len(SEARCH_TERMS), n).tolist()
    props = [
        product_props[prod] if name in PRODUCT_EVENTS else search_props[term] if name == "search" else no_props
        for name, prod, term in zip(names.tolist(), product.tolist(), terms)
    ]
    ids = [
        {"device_id": d, "user_id": u} if li else {"device_id": d}
        for d, u, li in zip(device_id.tolist(), user_id.tolist(), logged_in.tolist())
    ]
    # Page views land on a few fixed pages, a category or the product (ids the page analysis' cleaning rules fold);
    # other events keep their name as the path.
    kind = rng.integers(0, len(PAGE_KINDS), n)
    page_paths = np.array(PAGE_KINDS, dtype=object)[kind]
    page_paths[kind == 0] = np.char.add("p/", product[kind == 0].astype(str)).astype(object)
    page_paths[kind == 1] = np.char.add("c/", CATEGORIES[product[kind == 1] % len(CATEGORIES)].astype(str)).astype(object)
    pages = np.where(names == "page_view", page_paths, names).astype(str)
    timestamps = pd.to_datetime(ts, unit="ms", utc=True)
    frame = pd.DataFrame(
        {
            "event_id": _uuid_strings(rng, n),
            "event": names,
            "app_id": spec.app_id,
            "ts": timestamps,
            "received_at": timestamps + pd.to_timedelta(rng.integers(50, 2_000, n), unit="ms"),
            "person_id": person_id,
            "oneid": oneid,
            "ids": ids,
            "session_id": np.char.add(f"s{spec.first_person}-", session_of.astype(str)),
            "platform": platform_of_device,
            "url": np.char.add("https://shop.example/", pages),
            "referrer": "",
            "title": names,
            "os": pd.Series(platform_of_device).map(PLATFORM_OS).to_numpy(),
            "browser": np.where(np.isin(platform_of_device, ["web", "h5"]), "Chrome", ""),
            "device_type": np.where(platform_of_device == "web", "desktop", "mobile"),
            "app_version": np.where(np.isin(platform_of_device, ["ios", "android"]), "3.2.1", ""),
            "lib": np.where(np.isin(platform_of_device, ["ios", "android"]), "trackflow-mobile", "trackflow-js"),
            "lib_version": "1.0.0",
            "screen": "",
            "viewport": "",
            "ip": "",
            "collector_id": "demogen",
            "layer": "default",
            "props": props,
            **_terminal_columns(rng, platform_of_device, names),
        }
    )
    # The generator knows each event's true person, so it writes the OneID itself instead of the write-time lookup.
    return frame.sort_values("ts", kind="stable").reset_index(drop=True)[[*DETAIL_COLUMNS, "oneid"]]


# Terminal columns by platform: (os versions, browser versions, device models, brands, screens "WxH").
_TERMINALS = {
    "web": (["10", "11"], ["119", "120", "121"], [""], [""], ["1920x1080", "1536x864", "2560x1440"]),
    "h5": (["13", "14"], ["119", "120"], ["SM-S918B", "Pixel 8", "Mi 13"], ["Samsung", "Google", "Xiaomi"], ["412x915", "393x873"]),
    "ios": (["17.1", "17.2", "16.6"], [""], ["iPhone15,2", "iPhone14,5"], ["Apple"], ["390x844", "430x932"]),
    "android": (["13", "14"], [""], ["SM-S918B", "Pixel 8", "Mi 13"], ["Samsung", "Google", "Xiaomi"], ["412x915", "393x873"]),
}
_NETWORKS, _CARRIERS = np.array(["wifi", "4g", "5g"]), np.array(["China Mobile", "China Unicom", "China Telecom"])
_CHANNELS = [("", "", ""), ("google", "cpc", "winter_sale"), ("newsletter", "email", "weekly"), ("wechat", "social", "")]


def _terminal_columns(rng: np.random.Generator, platform: np.ndarray, names: np.ndarray) -> dict[str, np.ndarray]:
    """Terminal and channel columns (pipelines/envelope.py TERMINAL_COLUMNS), drawn per event from each platform's
    choices; apps report network and carrier, page views half the time a utm channel and a referrer."""
    n = len(platform)
    out = {name: np.full(n, "", dtype=object) for name in ("os_version", "browser_version", "device_model", "device_brand")}
    width, height = np.zeros(n, np.uint16), np.zeros(n, np.uint16)
    for name, (oses, browsers, models, brands, screens) in _TERMINALS.items():
        at = np.flatnonzero(platform == name)
        pick = rng.integers(0, 1 << 30, len(at))
        out["os_version"][at] = np.array(oses, dtype=object)[pick % len(oses)]
        out["browser_version"][at] = np.array(browsers, dtype=object)[pick % len(browsers)]
        out["device_model"][at] = np.array(models, dtype=object)[pick % len(models)]
        out["device_brand"][at] = np.array(brands, dtype=object)[pick % len(models) % len(brands)]
        sizes = np.array([[int(x) for x in s.split("x")] for s in screens])[pick % len(screens)]
        width[at], height[at] = sizes[:, 0], sizes[:, 1]
    app = np.isin(platform, ["ios", "android"])
    channel = np.where((names == "page_view") & (rng.random(n) < 0.5), rng.integers(1, len(_CHANNELS), n), 0)
    utm = np.array(_CHANNELS, dtype=object)[channel]
    return {
        **out, "screen_width": width, "screen_height": height,
        "network_type": np.where(app, _NETWORKS[rng.integers(0, 3, n)], ""),
        "carrier": np.where(app, _CARRIERS[rng.integers(0, 3, n)], ""),
        "utm_source": utm[:, 0], "utm_medium": utm[:, 1], "utm_campaign": utm[:, 2],
        "referrer_domain": np.where(channel > 0, np.array(["", "google.com", "mail.example", "weixin.qq.com"])[channel], ""),
    }  # fmt: skip


PAGE_KINDS = ["p/", "c/", "", "deals", "search", "cart", "account"]  # the first two get an id and a category


def _uuid_strings(rng: np.random.Generator, count: int) -> list[str]:
    raw = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    hexed = raw.tobytes().hex()
    return [f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}" for h in (hexed[i * 32 : (i + 1) * 32] for i in range(count))]


DEMO_TABLE = "dwd_default"
ALREADY_GENERATED_SAMPLE = 1_000


class AlreadyGenerated(ValueError):
    """The frame's events are in the warehouse already (the same seed and sizes were inserted before)."""


def insert_frame(warehouse, frame: pd.DataFrame, chunk_rows: int = 500_000, progress: Callable[[int], None] | None = None) -> None:
    """Bulk insert into dwd_default, claimed and confirmed in the event index like every detail write
    (pipelines/warehouse/eventindex.py) but without its per-event lookups: a generated frame's ids are all new
    unless this very frame was inserted before, which a sample of its ids tells (AlreadyGenerated, nothing written)."""
    index = EventIndex(warehouse)
    if index.claims(frame["event_id"].head(ALREADY_GENERATED_SAMPLE).tolist()):
        raise AlreadyGenerated("these events are in the warehouse already (same seed and sizes); choose another --seed")
    for start in range(0, len(frame), chunk_rows):
        part = frame.iloc[start : start + chunk_rows]
        located = list(zip(part["event_id"], [DEMO_TABLE] * len(part), part["ts"].dt.date))
        index.record(located)
        warehouse.insert_df(DEMO_TABLE, part, settings={"async_insert": 0})
        index.record((), located)
        if progress:
            progress(len(part))


def envelopes(frame: pd.DataFrame) -> Iterator[dict]:
    """The frame's events as envelopes (for `--out FILE.jsonl.gz`, to load with `trackflow warehouse load`)."""
    ts = frame["ts"].astype("int64") // 1_000_000
    received = frame["received_at"].astype("int64") // 1_000_000
    for row, t, r in zip(frame.itertuples(index=False), ts, received):
        yield {
            "event_id": row.event_id, "event": row.event, "app_id": row.app_id, "ts": int(t), "received_at": int(r),
            "ids": row.ids, "session_id": row.session_id, "oneid": row.oneid,
            "context": {"platform": row.platform, "url": row.url, "title": row.title, "os": row.os, "browser": row.browser,
                        "device_type": row.device_type, "app_version": row.app_version, "lib": row.lib, "lib_version": row.lib_version,
                        **{name: getattr(row, name) for name in TERMINAL_TEXT},
                        "screen_width": int(row.screen_width), "screen_height": int(row.screen_height)},
            "props": row.props,
        }  # fmt: skip


def write_jsonl(frame: pd.DataFrame, path) -> int:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as out:
        for count, event in enumerate(envelopes(frame), start=1):
            out.write(json.dumps(event, separators=(",", ":")) + "\n")
    return len(frame)
