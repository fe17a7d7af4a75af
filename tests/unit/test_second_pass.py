"""Issue 21 ("security, second pass"): the findings whose proof needs no API."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

from chalicelib.services.support.monthly import MonthlyLog

# -- 9: the monthly report's CSV -----------------------------------------------------------------


def csv_rows(records: list[dict]) -> list[list[str]]:
    start = datetime(2026, 10, 31, 23, tzinfo=timezone.utc)
    log = MonthlyLog(username="hemtjanstab", year=2026, month=11, start=start,
                     end=datetime(2026, 11, 30, 23, tzinfo=timezone.utc), records=records)
    return list(csv.reader(io.StringIO(log.csv().decode("utf-8-sig")), delimiter=";"))[1:]


def test_a_blank_cell_of_the_monthly_csv_is_blank_and_a_formula_is_still_guarded():
    record = {"username": "hemtjanstab", "at": "2026-11-02T08:00:00.000000Z#ab12",
              "event": "account.disabled", "outcome": "success"}
    [row] = csv_rows([record])
    # time, event, description, outcome, who; then holder id, subject, number, network, other
    assert row[5:] == ["", "", "", "", ""]  # was "'-" in each: the formula guard on "-"
    [guarded] = csv_rows([{**record, "subject_name": "=HYPERLINK(\"x\")", "ip": "-1+2"}])
    assert guarded[6] == "'=HYPERLINK(\"x\")" and guarded[8] == "'-1+2"
