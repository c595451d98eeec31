"""A labelled synthetic identity world for tests and benchmarks: we know which person owns every id.

True persons have 1-3 devices, rotating cookies on each, most log in (user_id), some have phone hashes and WeChat
ids. 1% of devices are shared (family tablets, in-store kiosks) and used logged in by several identified persons.
Every blocklisted junk value appears in events of many persons (a junk value that slipped through would glue them
all together). Owners: a person index, or SHARED for shared-device ids (they belong to nobody in particular).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from pipelines.identity.rules import Rules

SHARED = -1
JUNK_VALUES = ("null", "undefined", "anonymous", "none", "0", "-1", "[object Object]", "NULL", "Undefined", "  ",
               "00000000", "0000-0000", "unknown", "nan", "00000000-0000-0000-0000-000000000000")  # fmt: skip
BASE_TS = 1_790_000_000_000  # 2026-09, epoch ms
DAY_MS = 86_400_000


@dataclass
class World:
    events: list[dict]
    owner: dict[str, int]  # node key -> true person (SHARED for shared-device ids)
    true_links: set[tuple[str, str]] = field(default_factory=set)  # links between ids of one person, as emitted


def generate(rules: Rules, persons: int = 2000, seed: int = 7, shared_share: float = 0.01, days: int = 20) -> World:
    rng = random.Random(seed)
    events: list[dict] = []
    owner: dict[str, int] = {}

    def event(ids: dict, ts: int, person: int) -> None:
        events.append({"event_id": str(uuid.UUID(int=rng.getrandbits(128))), "event": "page_view", "app_id": "demo",
                       "ts": ts, "ids": ids, "_person": person})  # fmt: skip

    def own(id_type: str, value: str, person: int) -> str:
        node, _ = rules.normalise(id_type, value)
        owner[node] = person
        return value

    shared_devices = []
    for index in range(max(1, int(persons * 3 * shared_share))):
        device = own("device_id", f"kiosk-{seed}-{index}", SHARED)
        shared_devices.append((device, own("cookie_id", f"kc-{seed}-{index}", SHARED)))

    for person in range(persons):
        start = BASE_TS + rng.randrange(days * DAY_MS)
        identified = rng.random() < 0.8
        user = own("user_id", f"U{seed}x{person}", person) if identified else None
        phone = own("phone_hash", f"{rng.getrandbits(64):016x}", person) if identified and rng.random() < 0.5 else None
        openid = own("wx_openid", f"oX{rng.getrandbits(48):012x}", person) if rng.random() < 0.3 else None
        devices = rng.randint(1, 3) if identified else 1
        for device_index in range(devices):
            device = own("device_id", f"d-{seed}-{person}-{device_index}", person)
            ts = start + device_index * 3_600_000
            for cookie_index in range(rng.randint(1, 4)):  # rotating cookies: each lives a while, then a new one
                cookie = own("cookie_id", f"c{rng.getrandbits(40):010x}", person)
                for _ in range(rng.randint(1, 3)):
                    ts += rng.randrange(1, 600_000)
                    event({"device_id": device, "cookie_id": cookie}, ts, person)
                if identified:
                    ts += rng.randrange(1, 600_000)
                    ids = {"device_id": device, "cookie_id": cookie, "user_id": user}
                    if phone and rng.random() < 0.5:
                        ids["phone_hash"] = phone.upper()  # case rules: the same hash in another case
                    event(ids, ts, person)
            if openid:
                event({"wx_openid": openid, "device_id": device, **({"user_id": user} if user else {})}, ts + 1, person)
        if phone:
            event({"user_id": user, "phone_hash": phone}, start + rng.randrange(DAY_MS), person)
        # Junk: every blocklisted value, next to this person's real ids (it must not glue persons together).
        junk_type = rng.choice(("device_id", "cookie_id", "user_id", "idfa", "android_id"))
        event({junk_type: rng.choice(JUNK_VALUES), "device_id": f"d-{seed}-{person}-0"}, start + 5, person)
        if identified and rng.random() < 3 * shared_share * 10:
            device, cookie = rng.choice(shared_devices)  # identified users sharing a device
            event({"device_id": device, "cookie_id": cookie, "user_id": user}, start + rng.randrange(DAY_MS), person)
    for device, cookie in shared_devices:  # anonymous use of the kiosk itself
        event({"device_id": device, "cookie_id": cookie}, BASE_TS + rng.randrange(days * DAY_MS), SHARED)

    world = World(events, owner)
    from pipelines.identity.links import event_links

    for item in events:
        for link in event_links(rules, item["ids"], item["ts"]):
            a, b = owner.get(link.strong), owner.get(link.weak)
            if link.strong != link.weak and a is not None and a == b and a != SHARED:
                world.true_links.add((link.strong, link.weak))
    return world


def quality(world: World, mapping: dict[str, str]) -> dict[str, float]:
    """over_merged: OneIDs holding exclusive ids of two or more true persons; recall: share of true links whose two
    ids share a OneID."""
    persons_of: dict[str, set[int]] = {}
    for node, oneid in mapping.items():
        person = world.owner.get(node)
        if person is not None and person != SHARED:
            persons_of.setdefault(oneid, set()).add(person)
    over = sum(1 for people in persons_of.values() if len(people) > 1)
    kept = sum(1 for a, b in world.true_links if mapping.get(a) is not None and mapping.get(a) == mapping.get(b))
    return {"over_merged": over, "recall": kept / max(1, len(world.true_links)), "true_links": len(world.true_links)}
