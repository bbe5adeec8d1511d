"""Which zone an X12 AT7 date and time are told in.

AT707 is the time code. The policy, in order:

- `UT`/`GM`/`Z`: UTC.
- Standard and daylight variants (`CS`, `CD`, `ES`, `ED`, ...): the fixed offset they name,
  whatever the calendar says, because the sender has already said which one applies.
- Generic zone codes (`CT`, `ET`, `MT`, `PT`, ...): the IANA zone of that region, so the offset
  follows daylight saving time on that date.
- `LT` (local time) or no time code: the zone of the place in the status's MS1 segment when it
  can be told from the state or province (US, Canada) or the country (single-zone countries);
  else the carrier's home zone, which the caller passes in (Heritage: America/Chicago).

An ambiguous local time (the repeated hour when clocks go back) is read as the first of the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

LOCAL_TIME_CODES = frozenset({"", "LT"})

FIXED_OFFSETS: Mapping[str, timedelta] = {
    "AS": timedelta(hours=-9),  # Alaska standard
    "AD": timedelta(hours=-8),  # Alaska daylight
    "HS": timedelta(hours=-10),  # Hawaii-Aleutian standard
    "HD": timedelta(hours=-9),  # Hawaii-Aleutian daylight
    "PS": timedelta(hours=-8),
    "PD": timedelta(hours=-7),
    "MS": timedelta(hours=-7),
    "MD": timedelta(hours=-6),
    "CS": timedelta(hours=-6),
    "CD": timedelta(hours=-5),
    "ES": timedelta(hours=-5),
    "ED": timedelta(hours=-4),
    "TS": timedelta(hours=-4),  # Atlantic standard
    "TD": timedelta(hours=-3),  # Atlantic daylight
    "NS": timedelta(hours=-3, minutes=-30),  # Newfoundland standard
    "ND": timedelta(hours=-2, minutes=-30),  # Newfoundland daylight
}

REGION_ZONES: Mapping[str, str] = {
    "AT": "America/Anchorage",
    "HT": "Pacific/Honolulu",
    "PT": "America/Los_Angeles",
    "MT": "America/Denver",
    "CT": "America/Chicago",
    "ET": "America/New_York",
    "TT": "America/Halifax",
    "NT": "America/St_Johns",
}

UTC_CODES = frozenset({"UT", "GM", "Z"})

_EASTERN = "America/New_York"
_CENTRAL = "America/Chicago"
_MOUNTAIN = "America/Denver"
_PACIFIC = "America/Los_Angeles"

US_STATE_ZONES: Mapping[str, str] = {
    **dict.fromkeys(
        [
            "CT",
            "DC",
            "DE",
            "FL",
            "GA",
            "KY",
            "MA",
            "MD",
            "ME",
            "NC",
            "NH",
            "NJ",
            "NY",
            "OH",
            "PA",
            "RI",
            "SC",
            "VA",
            "VT",
            "WV",
        ],
        _EASTERN,
    ),
    "MI": "America/Detroit",
    "IN": "America/Indiana/Indianapolis",
    **dict.fromkeys(
        [
            "AL",
            "AR",
            "IA",
            "IL",
            "KS",
            "LA",
            "MN",
            "MO",
            "MS",
            "ND",
            "NE",
            "OK",
            "SD",
            "TN",
            "TX",
            "WI",
        ],
        _CENTRAL,
    ),
    **dict.fromkeys(["CO", "ID", "MT", "NM", "UT", "WY"], _MOUNTAIN),
    "AZ": "America/Phoenix",
    **dict.fromkeys(["CA", "NV", "OR", "WA"], _PACIFIC),
    "AK": "America/Anchorage",
    "HI": "Pacific/Honolulu",
    "PR": "America/Puerto_Rico",
}
"""Each state's most populous zone; a state split between zones is told by that one."""

CANADA_PROVINCE_ZONES: Mapping[str, str] = {
    "AB": "America/Edmonton",
    "BC": "America/Vancouver",
    "MB": "America/Winnipeg",
    "NB": "America/Moncton",
    "NL": "America/St_Johns",
    "NS": "America/Halifax",
    "NT": "America/Edmonton",
    "NU": "America/Iqaluit",
    "ON": "America/Toronto",
    "PE": "America/Halifax",
    "QC": "America/Toronto",
    "SK": "America/Regina",
    "YT": "America/Whitehorse",
}

COUNTRY_ZONES: Mapping[str, str] = {
    "AT": "Europe/Vienna",
    "BE": "Europe/Brussels",
    "CH": "Europe/Zurich",
    "CZ": "Europe/Prague",
    "DE": "Europe/Berlin",
    "DK": "Europe/Copenhagen",
    "ES": "Europe/Madrid",
    "FR": "Europe/Paris",
    "GB": "Europe/London",
    "IE": "Europe/Dublin",
    "IT": "Europe/Rome",
    "LU": "Europe/Luxembourg",
    "NL": "Europe/Amsterdam",
    "PL": "Europe/Warsaw",
    "SE": "Europe/Stockholm",
}
"""Countries with one zone; larger countries need a state or province to tell."""


def is_known_time_code(code: str) -> bool:
    return (
        code in LOCAL_TIME_CODES
        or code in FIXED_OFFSETS
        or code in REGION_ZONES
        or code in UTC_CODES
    )


def zone_for_time_code(
    code: str, *, region: str | None, country: str | None, home_zone: tzinfo
) -> tzinfo | None:
    """The zone AT7's date and time are in (see the module docstring); None for unknown codes."""
    if code in UTC_CODES:
        return UTC
    if code in FIXED_OFFSETS:
        return timezone(FIXED_OFFSETS[code], code)
    if code in REGION_ZONES:
        return ZoneInfo(REGION_ZONES[code])
    if code in LOCAL_TIME_CODES:
        return place_zone(region, country) or home_zone
    return None


def place_zone(region: str | None, country: str | None) -> tzinfo | None:
    """The zone of a place told by state/province and country, when that is unambiguous."""
    name: str | None = None
    if country in ("US", None) and region:
        name = US_STATE_ZONES.get(region)
    elif country == "CA" and region:
        name = CANADA_PROVINCE_ZONES.get(region)
    elif country:
        name = COUNTRY_ZONES.get(country)
    return ZoneInfo(name) if name else None
