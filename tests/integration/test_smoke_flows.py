from tests.api_client import post


def test_reset_flow_end_to_end(world, client):
    world.create_account()
    started = post(client, "/api/reset/start", {"username": "HemtjanstAB ", "phone": "+46701234567"})
    assert started.status_code == 202, started.body
    code = world.last_code("+46701234567")
    verified = post(client, "/api/reset/verify", {"challenge": started.json_body["challenge"],
                                                  "code": code})
    assert verified.status_code == 200, verified.body
    done = post(client, "/api/reset/complete", {"reset_token": verified.json_body["reset_token"],
                                                "password": "Bla-Hus-2026-x"})
    assert done.status_code == 200, done.body
    assert done.json_body == {"changed": True, "username": "hemtjanstab"}


def test_registration_flow_end_to_end(world, client):
    world.create_account(phone=None)
    login = post(client, "/api/registration/login", {"username": "hemtjanstab",
                                                     "password": "tuvKAJ58!x"})
    assert login.status_code == 200, login.body
    assert login.json_body["holders"] == []
    session = login.json_body["session"]
    asked = post(client, "/api/registration/holders",
                 {"name": "Anna Andersson", "phone": "070-765 43 21"}, session=session)
    assert asked.status_code == 202, asked.body
    code = world.last_code("+46707654321")
    verified = post(client, "/api/registration/holders/verify", {"code": code}, session=session)
    assert verified.status_code == 200, verified.body
    assert world.portal.accounts.get("hemtjanstab").holders[0].phone == "+46707654321"
