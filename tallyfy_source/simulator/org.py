"""Deterministic synthetic Tallyfy organizations (standard library only).

`SyntheticOrg.generate(...)` builds members, groups, tags and guests as plain
dicts in the shape the API returns them (before `with=` include wrapping).
Everything is drawn from one seeded `random.Random`, so the same arguments
always give the same org. The org has a simulated clock (`org.now`): every
mutation advances it by at least one second, so an updated record is always
strictly newer than every time that existed before the update.

Stored records always carry the update time under `updated_at`; the simulator
renames the key in the copy it serves (`last_updated` variant).
"""

import copy
import hashlib
import random
import threading
import unicodedata
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Dict, Iterable, List, Optional

UTC = timezone.utc
BASE_NOW = datetime(2026, 11, 1, 0, 0, 0, tzinfo=UTC)
HISTORY_SECONDS = 3 * 365 * 86400

RESOURCES = ("members", "groups", "tags", "guests")
KEY_FIELD = {"members": "id", "groups": "id", "tags": "id", "guests": "email"}
#: resources whose records carry an update time
UPDATABLE = ("members", "groups")

# --- timestamps ---------------------------------------------------------------

TS_STYLES = ("Z", ".000Z", "+00:00", ".000000Z")


def format_ts(dt: datetime, style: int = 0) -> str:
    """`dt` (whole seconds, UTC) in one of the four seen ISO 8601 spellings."""
    base = dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return base + TS_STYLES[style % len(TS_STYLES)]


def ts_style(value: Optional[str]) -> int:
    """Which of `TS_STYLES` a timestamp string uses (0 when unknown)."""
    if not value:
        return 0
    for i in (3, 1, 2):  # longest suffixes first
        if value.endswith(TS_STYLES[i]):
            return i
    return 0


@lru_cache(maxsize=200_000)
def parse_ts(value: str) -> datetime:
    """Parse any of the seen spellings into an aware UTC datetime."""
    s = value.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


# --- vocabulary ----------------------------------------------------------------

FIRST_NAMES = [
    "Anna", "James", "Maria", "John", "Sofia", "Liam", "Emma", "Noah", "Olivia", "Lucas",
    "Mia", "Ethan", "Ava", "Mateo", "Isabella", "Oliver", "Chloe", "Elijah", "Zoe", "Aarav",
    "Priya", "Wei", "Yuki", "Fatima", "Omar", "Lars", "Ingrid", "Pierre", "Camille", "Giulia",
    "Mary Ann", "Jean Luc", "Ana Maria", "Kofi", "Amara", "Diego", "Hana", "Sven", "Nadia", "Tomás",
]
LAST_NAMES = [
    "Smith", "Johnson", "Garcia", "Müller", "Rossi", "Dubois", "Nowak", "Kim", "Nguyen", "Patel",
    "Brown", "Wilson", "Taylor", "Anderson", "Thomas", "Moore", "Martin", "Lee", "Walker", "Hall",
    "van der Berg", "De La Cruz", "O'Brien", "Al Rashid", "da Silva", "Andersen", "Kowalski",
    "Tanaka", "Okafor", "Schmidt", "Fernández", "Ivanova", "Chen", "Singh", "Cohen", "Larsen",
]
JOB_TITLES = [
    "Accountant", "Operations Manager", "HR Generalist", "Software Engineer", "Sales Executive",
    "Customer Success Manager", "Paralegal", "Procurement Specialist", "Marketing Lead",
    "Office Administrator", "Financial Controller", "Team Lead", "Recruiter", "Project Manager",
    "Compliance Officer", "Support Agent", "Data Analyst", "COO", "Head of People", None,
]
TEAMS = ["Finance", "People", "Engineering", "Sales", "Marketing", "Legal", "Operations",
         "Support", "IT", "Procurement", None]
TIMEZONES = [
    ("Europe/London", "+00:00"), ("Europe/Berlin", "+01:00"), ("America/New_York", "-05:00"),
    ("America/Chicago", "-06:00"), ("America/Los_Angeles", "-08:00"), ("Asia/Kolkata", "+05:30"),
    ("Asia/Tokyo", "+09:00"), ("Australia/Sydney", "+11:00"), ("UTC", "+00:00"),
    ("America/Sao_Paulo", "-03:00"), ("Africa/Lagos", "+01:00"),
]
LOCALES = ["en", "en", "en", "en-GB", "de", "fr", "es", "pt-BR", "ja"]
DATE_FORMATS = ["mm/dd/yyyy", "dd/mm/yyyy", "yyyy-mm-dd"]
COUNTRIES = ["US", "GB", "DE", "FR", "IN", "JP", "AU", "BR", "NG", "ES", "NL", None]

DEPARTMENTS = [
    "Finance", "HR", "Engineering", "Sales", "Marketing", "Legal", "Operations", "Support",
    "IT", "Procurement", "Customer Success", "Compliance", "Facilities", "Payroll", "Product",
    "Quality Assurance", "Security", "Partnerships", "Training", "Onboarding Team",
]
REGIONS = ["EMEA", "APAC", "Americas", "North America", "LATAM", "DACH", "Nordics", "UK", "Benelux"]

TAG_WORDS = [
    "Urgent", "VIP", "Compliance", "Onboarding", "Contract", "Renewal", "Invoice", "Audit",
    "Q1", "Q2", "Q3", "Q4", "High Priority", "Low Priority", "Blocked", "Review", "Legal",
    "Finance", "HR", "Client", "Internal", "External", "Pilot", "Escalation", "Security",
    "GDPR", "SOX", "ISO 27001", "Vendor", "Hiring", "Offboarding", "Expense", "Travel",
]
AUTO_PREFIXES = ["from", "task", "step"]
AUTO_WORDS = [
    "Onboarding", "Review", "Approve", "Sign Off", "Kickoff", "Handover", "Invoice Run",
    "Audit Prep", "Contract Check", "Payroll", "Renewal", "Intake",
]
COLORS = ["#3fb65b", "#e04f5f", "#f5a623", "#4a90e2", "#9013fe", "#50e3c2", "#8b572a",
          "#417505", "#bd10e0", "#7ed321", "#d0021b", "#f8e71c"]
COMPANIES = ["Acme Ltd", "Globex", "Initech", "Umbrella Corp", "Stark Industries", "Wayne Enterprises",
             "Hooli", "Vandelay Industries", "Soylent Co", "Wonka Industries", "Tyrell Corp", None]

MEMBER_STATS_KEYS = ("steps_created", "tasks_completed", "processes_launched", "checklists_created",
                     "last_step_created_at")
TAG_STATS_KEYS = ("active_template", "archived_template", "active_process", "archived_process")
GUEST_STATS_KEYS = ("active_tasks", "completed_tasks", "processes_involved", "last_task_completed_at")


def _slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    out = "".join(ch.lower() if ch.isascii() and ch.isalnum() else "." if ch in " -'" else ""
                  for ch in text)
    while ".." in out:
        out = out.replace("..", ".")
    return out.strip(".") or "user"


def _hex32(rng: random.Random) -> str:
    return "%032x" % rng.getrandbits(128)


def default_org_id(seed: Any) -> str:
    return hashlib.md5(f"tallyfy-sim-org:{seed}".encode()).hexdigest()


class SyntheticOrg:
    """One organization's data plus a simulated clock. Use `SyntheticOrg.generate(...)`.

    Accessors return copies (safe to modify): `members`, `groups`, `tags`, `guests`
    (lists in insertion order), `member(id)`, `group(id)`, `tag(id)`, `guest(email)`.
    Side data (live dicts): `member_stats[id]`, `tag_statistics[id]`, `guest_stats[email]`.
    `served(resource, ...)` returns exactly what the simulator serves (default order).
    """

    def __init__(self, org_id: str, name: str, seed: Any = 0, now: datetime = BASE_NOW):
        self.org_id = org_id
        self.name = name
        self.seed = seed
        self.now = now
        self.lock = threading.RLock()
        self._data: Dict[str, Dict[Any, Dict[str, Any]]] = {r: {} for r in RESOURCES}
        self.member_stats: Dict[int, Dict[str, Any]] = {}
        self.tag_statistics: Dict[str, Dict[str, int]] = {}
        self.guest_stats: Dict[str, Dict[str, Any]] = {}
        self._rng = random.Random(f"mut:{seed}:{org_id}")  # for mutations' made-up values
        self._next_member_id = 10001
        self._next_guest_id = 50001
        self.mutations = 0
        self._bulk_times: List[datetime] = []
        self._emails: set = set()  # member emails handed out during generation
        self._dirty_emails = False  # True once mutations may have changed emails

    # ------------------------------------------------------------------ generation
    @classmethod
    def generate(
        cls,
        org_id: Optional[str] = None,
        members: int = 300,
        groups: int = 30,
        tags: int = 200,
        guests: int = 60,
        memberships_per_group: Optional[float] = None,
        seed: Any = 0,
        name: Optional[str] = None,
    ) -> "SyntheticOrg":
        if org_id is None:
            org_id = default_org_id(seed)
        rng = random.Random(f"gen:{seed}:{org_id}")
        org = cls(org_id, name or f"Synthetic Org {org_id[:6]}", seed=seed)
        start = BASE_NOW - timedelta(seconds=HISTORY_SECONDS)
        org._bulk_times: List[datetime] = [
            start + timedelta(seconds=rng.randrange(HISTORY_SECONDS)) for _ in range(12)
        ]
        for _ in range(members):
            org._gen_member(rng)
        for _ in range(guests):
            org._gen_guest(rng)
        for _ in range(groups):
            org._gen_group(rng, memberships_per_group)
        for _ in range(tags):
            org._gen_tag(rng)
        org._dirty_emails = True
        return org

    def _times(self, rng: random.Random, updatable: bool = True):
        """(created, updated, style): created in the past ~3 years, updated >= created."""
        created = BASE_NOW - timedelta(seconds=rng.randrange(3600, HISTORY_SECONDS))
        style = rng.randrange(len(TS_STYLES))
        if not updatable:
            return created, created, style
        r = rng.random()
        if r < 0.35:
            updated = created
        elif r < 0.45:  # bulk updates: share an update time with other records (ties)
            later = [t for t in self._bulk_times if t >= created]
            updated = rng.choice(later) if later else created
        else:
            span = int((BASE_NOW - created).total_seconds()) - 1
            updated = created + timedelta(seconds=rng.randrange(max(span, 1)))
        return created, updated, style

    def _unique_email(self, first: str, last: str, domain: str, taken: Iterable[str]) -> str:
        base = f"{_slug(first)}.{_slug(last)}"
        email = f"{base}@{domain}"
        n = 2
        while email in taken:
            email = f"{base}{n}@{domain}"
            n += 1
        return email

    def _gen_member(self, rng: random.Random) -> Dict[str, Any]:
        mid = self._next_member_id
        self._next_member_id += 1
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        created, updated, style = self._times(rng)
        taken = {m["email"] for m in self._data["members"].values()} if self._dirty_emails else self._emails
        email = self._unique_email(first, last, "example.com", taken)
        self._emails.add(email)
        r = rng.random()
        status = "active" if r < 0.85 else "invited" if r < 0.95 else "disabled"
        role = rng.choices(["admin", "standard", "light"], weights=[1, 6, 3])[0]
        if rng.random() < 0.05:
            role = role.capitalize()
        tz, offset = rng.choice(TIMEZONES)
        existing = list(self._data["members"])
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
        self._data["members"][mid] = rec
        heavy = rng.random() < 0.1
        k = 50 if heavy else 5
        steps = rng.randrange(0, 10 * k) if rng.random() < 0.6 else 0
        self.member_stats[mid] = {
            "steps_created": steps,
            "tasks_completed": rng.randrange(0, 40 * k) if status != "invited" else 0,
            "processes_launched": rng.randrange(0, 8 * k) if status != "invited" else 0,
            "checklists_created": rng.randrange(0, 2 * k) if steps else 0,
            "last_step_created_at": ts(updated) if steps else None,
        }
        return rec

    def _gen_guest(self, rng: random.Random) -> Dict[str, Any]:
        gid = self._next_guest_id
        self._next_guest_id += 1
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = rng.choice(COMPANIES)
        domain = (_slug(company).replace(".", "") + ".com") if company else "gmail.com"
        email = self._unique_email(first, last, domain, self._data["guests"])
        created, _, style = self._times(rng, updatable=False)
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
            "link": f"https://go.tallyfy.com/{self.org_id}/guest/{_hex32(rng)}",
            "details": {
                "status": "disabled" if disabled else "active",
                "company_name": company,
                "timezone": rng.choice(TIMEZONES)[0],
                "disabled_at": format_ts(accessed, style) if disabled else None,
                "disabled_by": None,
                "reactivated_at": None,
            },
        }
        self._data["guests"][email] = rec
        active = rng.random() < 0.6
        self.guest_stats[email] = {
            "active_tasks": rng.randrange(0, 6) if active else 0,
            "completed_tasks": rng.randrange(0, 40) if active else rng.randrange(0, 3),
            "processes_involved": rng.randrange(0, 10) if active else 0,
            "last_task_completed_at": rec["last_accessed_at"] if active else None,
        }
        return rec

    def _group_name(self, rng: random.Random) -> str:
        taken = {g["name"] for g in self._data["groups"].values()}
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

    def _member_count(self, rng: random.Random, avg: Optional[float]) -> int:
        if rng.random() < 0.05:  # some groups are empty
            return 0
        if avg is None:
            k = rng.randint(0, 15)
        else:  # mean over all groups = avg (the 5% empty ones compensated)
            k = rng.randint(0, max(0, int(round(2 * avg / 0.95))))
        return min(k, len(self._data["members"]))

    def _gen_group(self, rng: random.Random, avg: Optional[float]) -> Dict[str, Any]:
        created, updated, style = self._times(rng)
        name = self._group_name(rng)
        member_ids = list(self._data["members"])
        guest_emails = list(self._data["guests"])
        k = self._member_count(rng, avg)
        guests = (rng.sample(guest_emails, min(len(guest_emails), rng.randint(1, 3)))
                  if guest_emails and rng.random() < 0.3 else [])
        rec = {
            "id": _hex32(rng),
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
        self._data["groups"][rec["id"]] = rec
        return rec

    def _tag_title(self, rng: random.Random, auto: bool) -> str:
        taken = {t["title"] for t in self._data["tags"].values()}
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

    def _tag_stats(self, rng: random.Random) -> Dict[str, int]:
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

    def _gen_tag(self, rng: random.Random) -> Dict[str, Any]:
        auto = rng.random() < 0.15
        created, _, style = self._times(rng, updatable=False)
        rec = {
            "id": _hex32(rng),
            "title": self._tag_title(rng, auto),
            "color": rng.choice(COLORS) if rng.random() < 0.8 else None,
            "auto_generated": auto,
            "created_at": format_ts(created, style),
            "deleted_at": None,
        }
        self._data["tags"][rec["id"]] = rec
        self.tag_statistics[rec["id"]] = self._tag_stats(rng)
        return rec

    # ------------------------------------------------------------------ clock
    def tick(self, seconds: int = 1) -> datetime:
        """Advance the clock by `seconds` (>= 1) and return the new time."""
        with self.lock:
            self.now = self.now + timedelta(seconds=max(1, int(seconds)))
            self.mutations += 1
            return self.now

    def now_str(self, style: int = 0) -> str:
        return format_ts(self.now, style)

    # ------------------------------------------------------------------ accessors
    def records(self, resource: str) -> List[Dict[str, Any]]:
        """Deep copies of the current records of `resource`, in insertion order."""
        with self.lock:
            return copy.deepcopy(list(self._data[resource].values()))

    @property
    def members(self) -> List[Dict[str, Any]]:
        return self.records("members")

    @property
    def groups(self) -> List[Dict[str, Any]]:
        return self.records("groups")

    @property
    def tags(self) -> List[Dict[str, Any]]:
        return self.records("tags")

    @property
    def guests(self) -> List[Dict[str, Any]]:
        return self.records("guests")

    def get(self, resource: str, key: Any) -> Optional[Dict[str, Any]]:
        with self.lock:
            rec = self._data[resource].get(key)
            return copy.deepcopy(rec) if rec is not None else None

    def member(self, member_id: int) -> Optional[Dict[str, Any]]:
        return self.get("members", member_id)

    def group(self, group_id: str) -> Optional[Dict[str, Any]]:
        return self.get("groups", group_id)

    def tag(self, tag_id: str) -> Optional[Dict[str, Any]]:
        return self.get("tags", tag_id)

    def guest(self, email: str) -> Optional[Dict[str, Any]]:
        return self.get("guests", email)

    def count(self, resource: str) -> int:
        return len(self._data[resource])

    def memberships(self) -> int:
        """Total length of all groups' `members` lists."""
        with self.lock:
            return sum(len(g["members"]) for g in self._data["groups"].values())

    def served(self, resource: str, include: Iterable[str] = (), update_field_name: str = "updated_at",
               all_tags: bool = True) -> List[Dict[str, Any]]:
        """Exactly the records the simulator serves for `resource`, in its default order
        (members: id; groups, tags, guests: created_at then id). `all_tags=False` hides
        auto-generated tags like the API does without `all=true`."""
        from .server import default_sort, serve_record  # local import: no cycle at load time

        with self.lock:
            recs = list(self._data[resource].values())
            if resource == "tags" and not all_tags:
                recs = [t for t in recs if not t["auto_generated"]]
            recs = default_sort(resource, recs)
            include = set(include)
            ctx = self._include_context(resource, include)
            return [serve_record(self, resource, r, include, update_field_name, ctx) for r in recs]

    def _include_context(self, resource: str, include: Iterable[str]) -> Dict[str, Any]:
        """Indexes needed to build includes (built once per request)."""
        ctx: Dict[str, Any] = {}
        if resource == "members" and "groups" in include:
            from .server import default_sort

            idx: Dict[int, List[Dict[str, Any]]] = {}
            for g in default_sort("groups", list(self._data["groups"].values())):  # groups' list order
                for mid in g["members"]:
                    idx.setdefault(mid, []).append({"id": g["id"], "name": g["name"]})
            ctx["groups_of"] = idx
        return ctx

    # ------------------------------------------------------------------ mutations
    def _require(self, resource: str, key: Any) -> Dict[str, Any]:
        rec = self._data[resource].get(key)
        if rec is None:
            raise KeyError(f"no {resource} record {key!r} in org {self.org_id}")
        return rec

    def _bump(self, rec: Dict[str, Any], when: datetime) -> None:
        rec["updated_at"] = format_ts(when, ts_style(rec.get("created_at")))

    def _apply(self, resource: str, key: Any, changes: Dict[str, Any]) -> Dict[str, Any]:
        with self.lock:
            rec = self._require(resource, key)
            when = self.tick()
            explicit_update = "updated_at" in changes
            for field, value in changes.items():
                if field == KEY_FIELD[resource]:
                    raise ValueError(f"cannot change the key field {field!r}")
                rec[field] = copy.deepcopy(value)
            if resource in UPDATABLE and not explicit_update:
                self._bump(rec, when)
            return copy.deepcopy(rec)

    def _new_times(self, overrides: Dict[str, Any], updatable: bool):
        when = self.tick()
        style = self._rng.randrange(len(TS_STYLES))
        stamp = format_ts(when, style)
        out = {"created_at": stamp}
        if updatable:
            out["updated_at"] = stamp
        return out

    # members
    def add_member(self, **overrides: Any) -> Dict[str, Any]:
        """Add a member created (and updated) at the advanced clock; fields can be overridden.
        Stats default to zeros; pass `stats={...}` to set them."""
        stats = overrides.pop("stats", None)
        with self.lock:
            rec = self._gen_member(self._rng)
            del self._data["members"][rec["id"]]
            rec.update(self._new_times(overrides, True))
            invited = rec["status"] == "invited"
            rec.update(last_login_at=None, last_accessed_at=None, last_known_ip=None,
                       last_known_country=None,
                       activated_at=None if invited else rec["created_at"],
                       approved_at=None if invited else rec["created_at"],
                       disabled_at=rec["updated_at"] if rec["status"] == "disabled" else None)
            rec.update(copy.deepcopy(overrides))
            if rec["id"] in self._data["members"]:
                raise ValueError(f"member id {rec['id']} exists")
            self._data["members"][rec["id"]] = rec
            self.member_stats.pop(rec["id"], None)
            self.member_stats[rec["id"]] = dict(stats) if stats else {
                "steps_created": 0, "tasks_completed": 0, "processes_launched": 0,
                "checklists_created": 0, "last_step_created_at": None}
            return copy.deepcopy(rec)

    def update_member(self, member_id: int, **changes: Any) -> Dict[str, Any]:
        return self._apply("members", member_id, changes)

    def delete_member(self, member_id: int) -> None:
        """Remove a member: it never appears again; groups listing it lose it and are updated."""
        with self.lock:
            self._require("members", member_id)
            when = self.tick()
            del self._data["members"][member_id]
            self.member_stats.pop(member_id, None)
            for g in self._data["groups"].values():
                if member_id in g["members"]:
                    g["members"] = [m for m in g["members"] if m != member_id]
                    self._bump(g, when)

    # groups
    def add_group(self, **overrides: Any) -> Dict[str, Any]:
        with self.lock:
            rec = self._gen_group(self._rng, None)
            del self._data["groups"][rec["id"]]
            rec.update(self._new_times(overrides, True))
            rec.update(copy.deepcopy(overrides))
            if rec["id"] in self._data["groups"]:
                raise ValueError(f"group id {rec['id']} exists")
            self._data["groups"][rec["id"]] = rec
            return copy.deepcopy(rec)

    def update_group(self, group_id: str, **changes: Any) -> Dict[str, Any]:
        return self._apply("groups", group_id, changes)

    def delete_group(self, group_id: str) -> None:
        """Hard delete: the group just vanishes."""
        with self.lock:
            self._require("groups", group_id)
            self.tick()
            del self._data["groups"][group_id]

    # tags
    def add_tag(self, statistics: Optional[Dict[str, int]] = None, **overrides: Any) -> Dict[str, Any]:
        with self.lock:
            rec = self._gen_tag(self._rng)
            del self._data["tags"][rec["id"]]
            self.tag_statistics.pop(rec["id"], None)
            rec.update(self._new_times(overrides, False))
            rec.update(copy.deepcopy(overrides))
            if rec["id"] in self._data["tags"]:
                raise ValueError(f"tag id {rec['id']} exists")
            self._data["tags"][rec["id"]] = rec
            self.tag_statistics[rec["id"]] = dict(statistics or dict.fromkeys(TAG_STATS_KEYS, 0))
            return copy.deepcopy(rec)

    def update_tag(self, tag_id: str, **changes: Any) -> Dict[str, Any]:
        return self._apply("tags", tag_id, changes)

    def delete_tag(self, tag_id: str) -> None:
        """Hard delete (also from templates and processes: its statistics vanish)."""
        with self.lock:
            self._require("tags", tag_id)
            self.tick()
            del self._data["tags"][tag_id]
            self.tag_statistics.pop(tag_id, None)

    def set_tag_statistics(self, tag_id: str, **counts: int) -> Dict[str, int]:
        with self.lock:
            self._require("tags", tag_id)
            self.tick()
            unknown = set(counts) - set(TAG_STATS_KEYS)
            if unknown:
                raise ValueError(f"unknown tag statistics {sorted(unknown)}")
            self.tag_statistics[tag_id].update(counts)
            return dict(self.tag_statistics[tag_id])

    # guests
    def add_guest(self, **overrides: Any) -> Dict[str, Any]:
        stats = overrides.pop("stats", None)
        with self.lock:
            rec = self._gen_guest(self._rng)
            del self._data["guests"][rec["email"]]
            old_email = rec["email"]
            rec.update(self._new_times(overrides, False))
            rec["last_accessed_at"] = None
            rec.update(copy.deepcopy(overrides))
            if rec["email"] in self._data["guests"]:
                raise ValueError(f"guest {rec['email']} exists")
            self._data["guests"][rec["email"]] = rec
            self.guest_stats.pop(old_email, None)
            self.guest_stats[rec["email"]] = dict(stats) if stats else {
                "active_tasks": 0, "completed_tasks": 0, "processes_involved": 0,
                "last_task_completed_at": None}
            return copy.deepcopy(rec)

    def update_guest(self, email: str, **changes: Any) -> Dict[str, Any]:
        return self._apply("guests", email, changes)

    def delete_guest(self, email: str) -> None:
        """Remove a guest; groups listing it lose it and are updated."""
        with self.lock:
            self._require("guests", email)
            when = self.tick()
            del self._data["guests"][email]
            self.guest_stats.pop(email, None)
            for g in self._data["groups"].values():
                if email in g["guests"]:
                    g["guests"] = [e for e in g["guests"] if e != email]
                    self._bump(g, when)

    _UPDATERS = {"members": "update_member", "groups": "update_group",
                 "tags": "update_tag", "guests": "update_guest"}

    def touch_random(self, kind: str, k: int, rng_seed: Any = 0) -> List[Any]:
        """Update `k` distinct random records of `kind` (members: job_title, groups:
        description, tags: color, guests: details.company_name); returns their keys.
        Each update advances the clock, so the touched records get distinct times."""
        rng = random.Random(f"touch:{rng_seed}:{kind}")
        with self.lock:
            keys = list(self._data[kind])
            chosen = rng.sample(keys, min(k, len(keys)))
            for key in chosen:
                n = rng.randrange(1_000_000)
                if kind == "members":
                    self.update_member(key, job_title=f"{rng.choice(JOB_TITLES[:-1])} {n}")
                elif kind == "groups":
                    self.update_group(key, description=f"Updated description {n}")
                elif kind == "tags":
                    self.update_tag(key, color="#%06x" % rng.getrandbits(24))
                elif kind == "guests":
                    details = dict(self._data["guests"][key]["details"])
                    details["company_name"] = f"Company {n}"
                    self.update_guest(key, details=details)
                else:
                    raise ValueError(kind)
            return chosen

    # ------------------------------------------------------------------ comparison
    def snapshot(self) -> Dict[str, Any]:
        """Everything, for equality checks (determinism tests)."""
        with self.lock:
            return copy.deepcopy({
                "org_id": self.org_id, "name": self.name, "now": self.now.isoformat(),
                "data": {r: list(v.values()) for r, v in self._data.items()},
                "member_stats": self.member_stats, "tag_statistics": self.tag_statistics,
                "guest_stats": self.guest_stats,
            })

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SyntheticOrg) and self.snapshot() == other.snapshot()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"SyntheticOrg({self.org_id!r}, members={self.count('members')}, "
                f"groups={self.count('groups')}, tags={self.count('tags')}, "
                f"guests={self.count('guests')}, now={format_ts(self.now)})")

