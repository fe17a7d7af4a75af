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

    def save(self, account: Account, read_version: int) -> None:
        """Write `account` alone, or ConditionFailed if somebody changed it since."""
        self._dynamo.put(self.table, account.to_item(), condition="version = :v",
                         values={":v": read_version})

    def expiring_on(self, day: str) -> list[str]:
        """The usernames whose password expires on `day` (YYYY-MM-DD), through the by_expiry
        index: the cost is that of the accounts due that day, never of the whole table."""
        found = self._dynamo.query(TableName=self.table, IndexName="by_expiry",
                                   KeyConditionExpression="expires_on = :d",
                                   ExpressionAttributeValues={":d": {"S": day}})
        return [item["username"] for item in found]

    def get_many(self, usernames: list[str]) -> list[Account]:
        """The accounts of `usernames` that exist, in one batched read per 100."""
        items = self._dynamo.batch_get([self.key(username) for username in usernames])
        return [Account.from_item(item) for item in items if item]

    def all(self, attributes: list[str] | None = None) -> list[dict]:
        """Every account item (or only `attributes` of each): a scan, for the support CLI."""
        return self._dynamo.scan(self.table, attributes)
