"""Synthetic directory records (members, guests, groups, tags) drawn from a seeded
`random.Random`: the same draws give the same records.

Each generator returns a record in the shape the API serves it (before `with=` include
wrapping), plus its side data where it has some; it stores nothing. The org passes in what a
generator must not collide with (emails, names and titles already taken) and what it may refer
to (member ids, guest emails), and keeps what comes back. The shared draws (ids, emails, times)
are `draws.py`'s; changing stored records is the org's (`directory_changes.py`).
"""

import random
from datetime import datetime
from typing import Any, Container, Dict, Optional, Sequence, Tuple

from .draws import hex32, slug, times, unique_email
from .records import TAG_STATS_KEYS
from .timestamps import BASE_NOW, format_ts
from .vocabulary import (AUTO_PREFIXES, AUTO_WORDS, COLORS, COMPANIES, COUNTRIES, DATE_FORMATS, DEPARTMENTS,
                         FIRST_NAMES, JOB_TITLES, LAST_NAMES, LOCALES, REGIONS, TAG_WORDS, TEAMS, TIMEZONES)

Record = Dict[str, Any]


# ------------------------------------------------------------------ members
def member(rng: random.Random, mid: int, taken_emails: Container[str], existing_ids: Sequence[int],
           bulk: Sequence[datetime]) -> Tuple[Record, Record]:
    """(member, its stats); `existing_ids` are whom it may have been invited by."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    created, updated, style = times(rng, bulk)
    email = unique_email(first, last, "example.com", taken_emails)
    r = rng.random()
    status = "active" if r < 0.85 else "invited" if r < 0.95 else "disabled"
    role = rng.choices(["admin", "standard", "light"], weights=[1, 6, 3])[0]
    if rng.random() < 0.05:
        role = role.capitalize()
    tz, offset = rng.choice(TIMEZONES)
    existing = list(existing_ids)
    ts = lambda d: format_ts(d, style) if d is not None else None  # noqa: E731
    last_login = None if status == "invited" else created + (updated - created) * rng.random()
    last_login = last_login.replace(microsecond=0) if last_login else None
    rec = {
        "id": mid,
        "email": email,
        "username": email.split("@")[0],
        "first_name": first,
        "last_name": last,
        "full_name": f"{first} {last}",
        "profile_pic": (f"https://images.tallyfy.com/avatars/{mid}.png" if rng.random() < 0.6 else None),
        "job_title": rng.choice(JOB_TITLES),
        "job_description": (f"Responsible for {rng.choice(TEAMS[:-1]).lower()} work"
                            if rng.random() < 0.25 else None),
        "team": rng.choice(TEAMS),
        "timezone": tz,
        "UTC_offset": offset,
        "locale": rng.choice(LOCALES),
        "phone": (f"+1-555-{rng.randrange(1000, 9999)}" if rng.random() < 0.6 else None),
        "role": role,
        "status": status,
        "created_at": ts(created),
        "updated_at": ts(updated),
        "last_login_at": ts(last_login),
        "last_accessed_at": ts(last_login),
        "activated_at": None if status == "invited" else ts(created),
        "approved_at": None if status == "invited" else ts(created),
        "invited_by": (rng.choice(existing) if existing and rng.random() < 0.7 else None),
        "disabled_at": ts(updated) if status == "disabled" else None,
        "is_active": status == "active",
        "is_suspended": status == "disabled",
        "type": "user",
        "date_format": rng.choice(DATE_FORMATS),
        "last_known_ip": (f"203.0.113.{rng.randrange(1, 255)}" if last_login else None),
        "last_known_country": rng.choice(COUNTRIES) if last_login else None,
    }
    heavy = rng.random() < 0.1
    k = 50 if heavy else 5
    steps = rng.randrange(0, 10 * k) if rng.random() < 0.6 else 0
    stats = {
        "steps_created": steps,
        "tasks_completed": rng.randrange(0, 40 * k) if status != "invited" else 0,
        "processes_launched": rng.randrange(0, 8 * k) if status != "invited" else 0,
        "checklists_created": rng.randrange(0, 2 * k) if steps else 0,
        "last_step_created_at": ts(updated) if steps else None,
    }
    return rec, stats


def as_new_member(rec: Record) -> None:
    """Reshape a generated member (its times already set) as one that has just been created:
    never logged in, activated and approved when created unless still invited."""
    invited = rec["status"] == "invited"
    rec.update(last_login_at=None, last_accessed_at=None, last_known_ip=None,
               last_known_country=None,
               activated_at=None if invited else rec["created_at"],
               approved_at=None if invited else rec["created_at"],
               disabled_at=rec["updated_at"] if rec["status"] == "disabled" else None)


def new_member_stats() -> Record:
    return {"steps_created": 0, "tasks_completed": 0, "processes_launched": 0,
            "checklists_created": 0, "last_step_created_at": None}


# ------------------------------------------------------------------ guests
def guest(rng: random.Random, gid: int, org_id: str, taken_emails: Container[str]) -> Tuple[Record, Record]:
    """(guest, its stats)."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    company = rng.choice(COMPANIES)
    domain = (slug(company).replace(".", "") + ".com") if company else "gmail.com"
    email = unique_email(first, last, domain, taken_emails)
    created, _, style = times(rng, (), updatable=False)
    accessed = (created + (BASE_NOW - created) * rng.random()).replace(microsecond=0)
    disabled = rng.random() < 0.08
    rec = {
        "id": gid,
        "email": email,
        "first_name": first if rng.random() < 0.8 else None,
        "last_name": last if rng.random() < 0.8 else None,
        "created_at": format_ts(created, style),
        "deleted_at": None,
        "last_accessed_at": format_ts(accessed, style) if rng.random() < 0.7 else None,
        "link": f"https://go.tallyfy.com/{org_id}/guest/{hex32(rng)}",
        "details": {
            "status": "disabled" if disabled else "active",
            "company_name": company,
            "timezone": rng.choice(TIMEZONES)[0],
            "disabled_at": format_ts(accessed, style) if disabled else None,
            "disabled_by": None,
            "reactivated_at": None,
        },
    }
    active = rng.random() < 0.6
    stats = {
        "active_tasks": rng.randrange(0, 6) if active else 0,
        "completed_tasks": rng.randrange(0, 40) if active else rng.randrange(0, 3),
        "processes_involved": rng.randrange(0, 10) if active else 0,
        "last_task_completed_at": rec["last_accessed_at"] if active else None,
    }
    return rec, stats


def new_guest_stats() -> Record:
    return {"active_tasks": 0, "completed_tasks": 0, "processes_involved": 0, "last_task_completed_at": None}


# ------------------------------------------------------------------ groups
def _group_name(rng: random.Random, taken: Container[str]) -> str:
    r = rng.random()
    if r < 0.4:
        base = rng.choice(DEPARTMENTS)
    elif r < 0.8:
        base = f"{rng.choice(REGIONS)} {rng.choice(DEPARTMENTS)}"
    else:
        base = f"{rng.choice(DEPARTMENTS)} Approvers"
    name, n = base, 2
    while name in taken:
        name = f"{base} {n}"
        n += 1
    return name


def _member_count(rng: random.Random, avg: Optional[float], members: int) -> int:
    if rng.random() < 0.05:  # some groups are empty
        return 0
    if avg is None:
        k = rng.randint(0, 15)
    else:  # mean over all groups = avg (the 5% empty ones compensated)
        k = rng.randint(0, max(0, int(round(2 * avg / 0.95))))
    return min(k, members)


def group(rng: random.Random, avg: Optional[float], taken_names: Container[str], member_ids: Sequence[int],
          guest_emails: Sequence[str], bulk: Sequence[datetime]) -> Record:
    """A group of some of `member_ids` (about `avg` on average; None: 0 to 15) and maybe a few guests."""
    created, updated, style = times(rng, bulk)
    name = _group_name(rng, taken_names)
    member_ids = list(member_ids)
    guest_emails = list(guest_emails)
    k = _member_count(rng, avg, len(member_ids))
    guests = (rng.sample(guest_emails, min(len(guest_emails), rng.randint(1, 3)))
              if guest_emails and rng.random() < 0.3 else [])
    return {
        "id": hex32(rng),
        "name": name,
        "description": (f"{name} team members" if rng.random() < 0.6 else
                        ("" if rng.random() < 0.5 else None)),
        "logo": (f"https://images.tallyfy.com/groups/{rng.getrandbits(32):08x}.png"
                 if rng.random() < 0.3 else None),
        "members": sorted(rng.sample(member_ids, k)),
        "guests": guests,
        "created_at": format_ts(created, style),
        "updated_at": format_ts(updated, style),
        "deleted_at": None,
    }


# ------------------------------------------------------------------ tags
def _tag_title(rng: random.Random, auto: bool, taken: Container[str]) -> str:
    if auto:
        base = f"{rng.choice(AUTO_PREFIXES)}:{rng.choice(AUTO_WORDS)}"
    elif rng.random() < 0.6:
        base = rng.choice(TAG_WORDS)
    else:
        base = f"{rng.choice(TAG_WORDS)} {rng.choice(TAG_WORDS)}"
    base = base[:26]
    title, n = base, 2
    while title in taken:
        title = f"{base} {n}"
        n += 1
    return title[:30]


def _tag_stats(rng: random.Random) -> Dict[str, int]:
    r = rng.random()
    if r < 0.40:
        return dict.fromkeys(TAG_STATS_KEYS, 0)
    if r < 0.55:  # archived-only
        return {"active_template": 0, "archived_template": rng.randrange(0, 4),
                "active_process": 0, "archived_process": rng.randrange(1, 30)}
    if r < 0.95:
        return {"active_template": rng.randrange(0, 4), "archived_template": rng.randrange(0, 3),
                "active_process": rng.randrange(0, 25), "archived_process": rng.randrange(0, 40)}
    return {"active_template": rng.randrange(5, 40), "archived_template": rng.randrange(0, 20),
            "active_process": rng.randrange(200, 3000), "archived_process": rng.randrange(500, 8000)}


def tag(rng: random.Random, taken_titles: Container[str]) -> Tuple[Record, Dict[str, int]]:
    """(tag, its statistics); about 15% are auto-generated (`from:...`, `task:...`, `step:...`)."""
    auto = rng.random() < 0.15
    created, _, style = times(rng, (), updatable=False)
    rec = {
        "id": hex32(rng),
        "title": _tag_title(rng, auto, taken_titles),
        "color": rng.choice(COLORS) if rng.random() < 0.8 else None,
        "auto_generated": auto,
        "created_at": format_ts(created, style),
        "deleted_at": None,
    }
    return rec, _tag_stats(rng)
