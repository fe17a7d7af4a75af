"""The accounts table: one item per functional account, keyed by the lower-cased username.

Every change is a whole-item put conditioned on the version that was read, so two changes
made at once cannot silently overwrite each other.
"""
from __future__ import annotations

from chalicelib.adapters.dynamo import ConditionFailed, Dynamo, put_op
from chalicelib.domain.account import Account
from chalicelib.domain.errors import AccountExists


class Accounts:
    def __init__(self, settings, dynamo: Dynamo):
        self._settings = settings
        self._dynamo = dynamo

    @property
    def table(self) -> str:
        return self._settings.accounts_table

    def key(self, username: str) -> tuple[str, dict]:
        return self.table, {"username": username}

    def get(self, username: str) -> Account | None:
        item = self._dynamo.get(self.table, {"username": username})
        return Account.from_item(item) if item else None

    def create_op(self, account: Account) -> dict:
        return put_op(self.table, account.to_item(), condition="attribute_not_exists(username)")

    def create(self, account: Account) -> None:
        try:
            self._dynamo.put(self.table, account.to_item(),
                             condition="attribute_not_exists(username)")
        except ConditionFailed:
            raise AccountExists() from None

    def save_op(self, account: Account, read_version: int) -> dict:
        """Write `account` (whose version is already bumped) if nobody changed it since."""
        return put_op(self.table, account.to_item(), condition="version = :v",
                      values={":v": read_version})
