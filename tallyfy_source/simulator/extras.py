"""Documented fields the generators' draws leave out, derived from what was drawn (no random
draws, so every other value of a seeded org stays the same): members' `country_id` and
`is_default_admin` (members/list-members), guests' `last_known_ip`, `last_known_country` and the
21 `details` keys of guests/list-guests."""

from typing import Any, Dict

from .vocabulary import COUNTRIES

Record = Dict[str, Any]
_COUNTRY_IDS = {c: i + 1 for i, c in enumerate(c for c in COUNTRIES if c)}
_TZ_COUNTRY = {"Europe/London": "GB", "Europe/Berlin": "DE", "America/New_York": "US", "America/Chicago": "US",
               "America/Los_Angeles": "US", "Asia/Kolkata": "IN", "Asia/Tokyo": "JP", "Australia/Sydney": "AU",
               "America/Sao_Paulo": "BR", "Africa/Lagos": "NG"}
#: guests/list-guests: the keys of `details`, in the example's order
GUEST_DETAIL_KEYS = ("status", "phone_1", "phone_2", "timezone", "image_url", "contact_url", "company_url",
                     "opportunity_url", "company_name", "opportunity_name", "external_sync_source",
                     "external_date_creation", "cadence_days", "associated_members", "last_city", "last_country",
                     "last_accessed_at", "disabled_at", "disabled_by", "reactivated_at", "reactivated_by")


def member(rec: Record) -> Record:
    country = _TZ_COUNTRY.get(rec.get("timezone") or "")
    rec.setdefault("country_id", _COUNTRY_IDS.get(country, 1))
    rec.setdefault("is_default_admin", False)
    return rec


def guest(rec: Record) -> Record:
    seen = rec.get("last_accessed_at") is not None
    country = _TZ_COUNTRY.get(rec["details"].get("timezone") or "") if seen else None
    rec.setdefault("last_known_ip", f"198.51.100.{rec['id'] % 254 + 1}" if seen else None)
    rec.setdefault("last_known_country", country)
    company = rec["details"].get("company_name")
    derived = {"company_url": f"https://{company.lower().replace(' ', '')}.com" if company else None,
               "last_country": country, "last_accessed_at": rec.get("last_accessed_at")}
    rec["details"] = {k: rec["details"].get(k, derived.get(k)) for k in GUEST_DETAIL_KEYS}
    return rec
