"""SPEC 11 under real parallel calls on an AWS that serialises every call: holders added at
the same moment never exceed the maximum, and one number never becomes two holders."""
from __future__ import annotations

from chalicelib.domain.errors import TooManyHolders


def kinds(answers) -> list[str]:
    return [type(a).__name__ + ("(new)" if getattr(a, "new", False) else "") for a in answers]


def add(stack, username, name, number):
    """Support's `holders add`, answering the error instead of raising it."""
    try:
        return stack.portal.holder_changes.add(username, name, number)
    except TooManyHolders as error:
        return error


def test_twenty_holders_added_at_once_fill_the_account_to_five_and_no_further(stack):
    username = "parallel-holders"
    stack.create_account(username, "+46701120000")

    answers = stack.parallel(20, lambda i: add(stack, username, f"Person {chr(65 + i)}",
                                               f"+467011201{i:02d}"))

    added = [a for a in answers if not isinstance(a, TooManyHolders)]
    refused = [a for a in answers if isinstance(a, TooManyHolders)]
    assert len(added) == 4 and len(refused) == 16, kinds(answers)
    assert all(a.new for a in added)
    holders = stack.portal.accounts.get(username).holders
    assert len(holders) == 5
    assert {h.id for h in holders} >= {a.holder.id for a in added}
    assert stack.events(username).count("holder.added") == 5  # 1 at creation, 4 now


def test_one_number_added_twenty_times_at_once_is_one_holder(stack):
    username = "parallel-same-number"
    stack.create_account(username, "+46701130000")

    answers = stack.parallel(20, lambda i: add(stack, username, "Bo Ek", "+46701130001"))

    assert sum(1 for a in answers if a.new) == 1, kinds(answers)
    assert sum(1 for a in answers if a.changed) == 1
    holders = stack.portal.accounts.get(username).holders
    assert [h.phone for h in holders] == ["+46701130000", "+46701130001"]

