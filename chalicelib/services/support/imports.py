"""`accounts import FILE.csv` (SPEC 9): check a whole account list, then create every account.

The file has a header `username,phone` (phone optional, columns in any order, `;` accepted
instead of `,` as a spreadsheet saves it); blank lines are skipped. A file with any bad line
creates nothing, and every bad line is named.
"""
from __future__ import annotations

import _csv
import csv
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chalicelib.domain import phone as phones
from chalicelib.domain.account import normalise_username
from chalicelib.domain.errors import AccountExists, ImportRejected, InvalidRequest, PortalError

if TYPE_CHECKING:
    from chalicelib.repositories.accounts import Accounts
    from chalicelib.services.support.changes import AccountChanges
    from chalicelib.settings import Settings

COLUMNS = ("username", "phone")


@dataclass(frozen=True)
class ImportProblem:
    """Why one line of an import file cannot be imported. `reason` is one of `bad_header`,
    `no_rows`, `malformed_row`, `invalid_username`, `duplicate`, `account_exists`,
    `invalid_phone`, `phone_not_allowed`, `no_directory_entry` (ldap mode); `detail` adds
    what the reason needs."""

    line: int
    reason: str
    username: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Imported:
    username: str
    phone: str | None
    password: str | None  # to hand out once; None: the holder sets it on pwreset


@dataclass
class ImportResult:
    created: list[Imported] = field(default_factory=list)
    not_created: list[ImportProblem] = field(default_factory=list)
    error: PortalError | None = None  # what stopped the import part-way, if anything


Row = tuple[int, str, "str | None"]  # (line, username, number)


def _reader(csv_text: str) -> _csv.Reader:
    text = csv_text.lstrip("\ufeff")
    header_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = ";" if ";" in header_line and "," not in header_line else ","
    return csv.reader(io.StringIO(text), delimiter=delimiter)


def _header(cells: list[str], line: int) -> list[str]:
    header = [cell.lower() for cell in cells]
    unknown = [name for name in header if name not in COLUMNS]
    if unknown or "username" not in header or len(set(header)) != len(header):
        raise ImportRejected([ImportProblem(line, "bad_header", detail=",".join(cells))])
    return header


class _Check:
    """The lines of one file, judged one at a time."""

    def __init__(self, allowed_countries: tuple[str, ...]) -> None:
        self.allowed_countries = allowed_countries
        self.header: list[str] | None = None
        self.header_at = 0
        self.rows: list[Row] = []
        self.problems: list[ImportProblem] = []
        self.first_seen: dict[str, int] = {}

    def line(self, line: int, cells: list[str]) -> None:
        if self.header is None:
            self.header, self.header_at = _header(cells, line), line
            return
        if len(cells) > len(self.header):
            self.problems.append(ImportProblem(
                line, "malformed_row",
                detail=f"{len(cells)} fields, the header has {len(self.header)}"))
            return
        values = dict(zip(self.header, cells + [""] * (len(self.header) - len(cells))))
        try:
            self.rows.append(self._row(line, values["username"], values.get("phone", "")))
        except _Bad as bad:
            self.problems.append(bad.problem)

    def _row(self, line: int, raw_username: str, raw_phone: str) -> Row:
        try:
            username = normalise_username(raw_username)
        except InvalidRequest:
            raise _Bad(ImportProblem(line, "invalid_username", raw_username)) from None
        if username in self.first_seen:
            raise _Bad(ImportProblem(line, "duplicate", username,
                                     detail=str(self.first_seen[username])))
        self.first_seen[username] = line
        number = None
        if raw_phone:
            try:
                number = phones.parse(raw_phone, self.allowed_countries)
            except PortalError as error:
                raise _Bad(ImportProblem(line, error.code, username)) from None
        return line, username, number


class _Bad(Exception):
    def __init__(self, problem: ImportProblem):
        super().__init__(problem.reason)
        self.problem = problem


@dataclass(frozen=True, kw_only=True)
class Imports:
    settings: Settings
    accounts: Accounts
    changes: AccountChanges

    def check_import(self, csv_text: str) -> list[Row]:
        """The (line, username, number) of every account in an import file, or ImportRejected
        listing every line that cannot be imported. Reads, never writes."""
        check = _Check(self.settings.allowed_countries)
        reader = _reader(csv_text)
        for cells in reader:
            cells = [cell.strip() for cell in cells]
            if any(cells):
                check.line(reader.line_num, cells)
        if check.header is None or (not check.rows and not check.problems):
            raise ImportRejected([ImportProblem(max(check.header_at, 1), "no_rows")])
        taken = {account.username for account in
                 self.accounts.get_many([username for _, username, _ in check.rows])}
        problems = check.problems + [ImportProblem(line, "account_exists", username)
                                     for line, username, _ in check.rows if username in taken]
        # SPEC 13: where passwords live in a directory, every account links an existing entry
        problems += [ImportProblem(line, "no_directory_entry", username)
                     for line, username, _ in check.rows
                     if username not in taken and not self.changes.can_hold(username)]
        if problems:
            raise ImportRejected(sorted(problems, key=lambda problem: problem.line))
        return check.rows

    def import_accounts(self, csv_text: str) -> ImportResult:
        """Create every account of an import file, or none if any line is bad.

        An account imported with a number gets a random password that nobody is shown: its
        holder sets their own on pwreset with a code sent to that number, so no password
        passes through the operator's hands. An account without a number gets a generated
        password, shown once in the answer, to be handed out: its holder needs it to log in
        to pwreg and register a number.

        Each account is its own transaction (with its `account.created` record). Should AWS
        fail part-way, the answer still holds the accounts that were created (and their
        passwords) and lists the lines that were not, with the error.
        """
        rows = self.check_import(csv_text)
        result = ImportResult()
        for index, (line, username, number) in enumerate(rows):
            try:
                _, password = self.changes.imported(username, number)
            except AccountExists:  # created by someone else since the check
                result.not_created.append(ImportProblem(line, "account_exists", username))
                continue
            except PortalError as error:
                result.error = error
                result.not_created += [ImportProblem(later, error.code, name)
                                       for later, name, _ in rows[index:]]
                break
            # ldap mode (SPEC 13) links the entry: no password here, none to hand out
            result.created.append(Imported(username, number, None if number else password))
        return result
