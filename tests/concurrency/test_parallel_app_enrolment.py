"""SPEC 12 through the API under real parallel calls, on an AWS that serialises every call:
an app's first code sent ten times at once is accepted once, at most 5 attempts are
compared, and the holder ends with exactly one app and one `authenticator.added`."""
from __future__ import annotations

import pyotp

from tests.concurrency.stack import PASSWORD


def test_the_same_first_code_sent_ten_times_at_once_is_accepted_once(stack):
    username, number = "parallel-app", "+46701150000"
    stack.create_account(username, number)
    login = stack.post("/api/registration/login", {"username": username, "password": PASSWORD})
    assert login.status == 200, login
    session = login.body["session"]
    asked = stack.post("/api/registration/holders", {"name": "Anna Berg", "phone": number},
                       session=session)
    assert asked.status == 202, asked
    stack.deliver()
    held = stack.post("/api/registration/holders/verify",
                      {"code": stack.codes_to(number)[-1]}, session=session)
    assert held.status == 200, held
    holder_id = held.body["holder"]["id"]
    path = f"/api/registration/holders/{holder_id}/authenticator"
    shown = stack.post(path, {}, session=session)
    assert shown.status == 200, shown
    code = pyotp.TOTP(shown.body["secret"]).now()  # the server runs on the real clock too

    answers = stack.parallel(10, lambda i: stack.post(path + "/verify", {"code": code},
                                                      session=session, ip=f"192.0.2.{70 + i}"))

    statuses = sorted(answer.status for answer in answers)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 400, 410}, statuses
    assert statuses.count(410) >= 10 - 5, statuses  # no more than 5 codes compared
    [holder] = stack.portal.accounts.get(username).holders
    assert holder.authenticator is not None and holder.authenticator["added_by"] == holder_id
    added = [r for r in stack.portal.audit.events(username, limit=1000)
             if r["event"] == "authenticator.added" and r["outcome"] in ("success", "replaced")]
    assert len(added) == 1
