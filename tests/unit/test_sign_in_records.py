"""SPEC 14: a sign-in's record is used once, within its 10 minutes, whatever runs in
parallel; the console's session ends when idle and at its end in any case."""
from __future__ import annotations

import threading

import pytest

from chalicelib.domain.codes import digest
from chalicelib.domain.sign_in import (SIGN_IN_SECONDS, AgentSession, SignInRefused,
                                       SignInRequest)
from chalicelib.repositories.sign_ins import SignIns
from chalicelib.settings import Settings
from tests.unit.fakes import MemoryStore

TABLE = Settings().challenges_table
NOW = 1_800_000_000.0


@pytest.fixture
def sign_ins():
    return SignIns(MemoryStore(), TABLE)


def begun(sign_ins, state: str = "the-state", at: float = NOW) -> SignInRequest:
    request = SignInRequest(id=SignInRequest.id_of(state), purpose="support", nonce="n",
                            code_verifier="v", browser=digest("b"), redirect_uri="https://x/cb",
                            created_at=at, expires_at=at + SIGN_IN_SECONDS)
    sign_ins.begin(request)
    return request


def reason(call) -> str:
    with pytest.raises(SignInRefused) as refused:
        call()
    return refused.value.reason


def test_a_sign_in_is_consumed_once_and_the_state_itself_is_never_stored(sign_ins):
    request = begun(sign_ins)
    assert sign_ins.consume("the-state", NOW + 1).nonce == request.nonce
    assert reason(lambda: sign_ins.consume("the-state", NOW + 2)) == "used_state"
    stored = str(sign_ins._store.get(TABLE, {"id": request.id}))
    assert "the-state" not in stored


def test_an_unknown_state_and_a_late_answer_are_refused_by_name(sign_ins):
    begun(sign_ins)
    assert reason(lambda: sign_ins.consume("another-state", NOW)) == "bad_state"
    assert reason(lambda: sign_ins.consume("the-state", NOW + SIGN_IN_SECONDS)) \
        == "expired_state"


def test_a_session_record_is_not_a_sign_in(sign_ins):
    """The same table holds both: a cookie's digest must never pass for a state's."""
    session = AgentSession(id=SignInRequest.id_of("x"), issuer="i", subject="s", name="n",
                           created_at=NOW, idle_until=NOW + 60, ends_at=NOW + 600)
    sign_ins._store.write(sign_ins.open(session))
    assert reason(lambda: sign_ins.consume("x", NOW)) == "bad_state"


def test_of_twenty_parallel_answers_with_one_state_exactly_one_is_accepted(sign_ins):
    begun(sign_ins)
    outcomes: list[str] = []
    start = threading.Barrier(20)

    def answer():
        start.wait()
        try:
            sign_ins.consume("the-state", NOW + 1)
            outcomes.append("accepted")
        except SignInRefused as refused:
            outcomes.append(refused.reason)

    threads = [threading.Thread(target=answer) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["accepted"] + ["used_state"] * 19


def test_a_session_lives_while_used_never_past_its_end(sign_ins):
    session = AgentSession(id=AgentSession.id_of("cookie"), issuer="i", subject="s",
                           name="n", created_at=NOW, idle_until=NOW + 1800,
                           ends_at=NOW + 3600)
    sign_ins._store.write(sign_ins.open(session))
    found = sign_ins.session("cookie", NOW + 1700)
    assert sign_ins.touch(found, NOW + 1700, 1800).idle_until == NOW + 3500
    assert sign_ins.session("cookie", NOW + 3400) is not None  # moved on past NOW + 1800
    touched = sign_ins.touch(found, NOW + 3000, 1800)
    assert touched.idle_until == NOW + 3600  # not NOW + 4800: never past the end
    assert sign_ins.session("cookie", NOW + 3599) is not None
    assert sign_ins.session("cookie", NOW + 3600) is None
    assert sign_ins.touch(touched, NOW + 3600, 1800) is None
    assert sign_ins.session("", NOW) is None
