"""Time as the rest of pwportal sees it: injected, so that expiry is tested without sleeping."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


# The months as the notices (services/notifications.py) and the static site
# (infra/site_build.py) name them, as Intl.DateTimeFormat does in sv-SE and en-GB.
MONTHS = {
    "sv": ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
           "september", "oktober", "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}


def month_name(month: int, lang: str) -> str:
    """The month (1–12) in `lang` (Swedish for a language without names here)."""
    return MONTHS.get(lang, MONTHS["sv"])[month - 1]


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with a Z, to the second: how every time leaves the API."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _last_sunday(year: int, month: int) -> datetime:
    last = datetime(year, month + 1, 1, tzinfo=timezone.utc) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def swedish_time(moment: datetime) -> datetime:
    """`moment` on the clocks of Sweden: CET, and CEST from the last Sunday of March to the
    last Sunday of October (01:00 UTC both), the EU rule. Computed here rather than read
    from a time-zone database, which a Lambda runtime does not promise to have."""
    moment = moment.astimezone(timezone.utc)
    summer_starts = _last_sunday(moment.year, 3) + timedelta(hours=1)
    summer_ends = _last_sunday(moment.year, 10) + timedelta(hours=1)
    hours = 2 if summer_starts <= moment < summer_ends else 1
    return moment.astimezone(timezone(timedelta(hours=hours)))


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
