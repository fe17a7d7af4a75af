"""The accounts table: one item per functional account, keyed by the lower-cased username.

Every change is a whole-item put conditioned on the version that was read, so two changes
made at once cannot silently overwrite each other.
"""
from __future__ import annotations

from datetime import date

from chalicelib.domain import conditions as c
from chalicelib.domain.account import HOLDER_USE, Account
from chalicelib.ports import Item, Put, Read, Store


def _account(item: Item | None) -> Account | None:
    return Account.from_item(item) if item else None


class Accounts:
    def __init__(self, store: Store, table: str) -> None:
        self._store = store
        self.table = table

    def get(self, username: str) -> Account | None:
        return _account(self._store.get(self.table, {"username": username}))

    def read(self, username: str) -> Read[Account | None]:
        return Read(self.table, {"username": username}, _account)

    def get_many(self, usernames: list[str]) -> list[Account]:
        """The accounts of `usernames` that exist, in one batched read per 100."""
        items = self._store.get_many([(self.table, {"username": u}) for u in usernames])
        return [Account.from_item(item) for item in items if item]

    def create(self, account: Account) -> Put:
        return Put(self.table, account.to_item(), expect=c.Missing("username"))

    def save(self, account: Account, read_version: int) -> Put:
        """Write `account` (whose version is already bumped) if nobody changed it since."""
        return Put(self.table, account.to_item(), expect=c.eq("version", read_version))

    def expiring_on(self, day: str) -> list[str]:
        """The usernames whose password expires on `day` (YYYY-MM-DD), through the by_expiry
        index: the cost is that of the accounts due that day, never of the whole table."""
        return [item["username"] for item in self._store.query(
            self.table, "expires_on", day, index="by_expiry", order="username")]

    def least_used_before(self, day: date) -> list[str]:
        """The usernames with a holder last used (or added) on `day` (a date) or before,
        through the sparse by_holder_use index: one Query, never a scan."""
        return [item["username"] for item in self._store.query(
            self.table, "holder_use", HOLDER_USE, index="by_holder_use",
            order="least_used_on", between=("0000-01-01", day.isoformat()))]

    def all(self, attributes: list[str] | None = None) -> list[Item]:
        """Every account item (or only `attributes` of each): a scan, for the support CLI."""
        return self._store.scan(self.table, attributes)
