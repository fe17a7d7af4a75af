"""The real identity provider for the tests (SPEC 15): Canaille, started once per session
the way `make run IDP=local` starts it (infra/identity_provider.py), on a port the OS picks.

It knows the pwportal client (this suite's redirect URIs) and a second client, `other`, whose
tokens are real tokens for another audience. `signed_in_console` points the portal at it.
"""
from __future__ import annotations

import pytest

from infra import identity_provider

PORTAL = "http://127.0.0.1:8000"  # the suite's own origin (chalice's test client has none)
CALLBACK = PORTAL + "/api/support/callback"
IDP_CALLBACK = PORTAL + "/api/idp/callback"  # pwreg's and pwreset's (SPEC 15)
OTHER_CLIENT, OTHER_SECRET = "other", "other-client-secret-for-the-tests"
OTHER_CALLBACK = PORTAL + "/other/callback"


@pytest.fixture(scope="session")
def provider():
    running = identity_provider.start(
        0, [CALLBACK, IDP_CALLBACK], clients=[f"{OTHER_CLIENT}:{OTHER_SECRET}:{OTHER_CALLBACK}"])
    yield running
    running.stop()


@pytest.fixture
def console(world, environment, provider):
    """The portal with the console on, signed in through `provider`, the clock at the real
    time (the provider's tokens carry real times)."""
    from datetime import datetime, timezone

    from chalicelib import bootstrap
    environment.setenv("PWPORTAL_IDP_ISSUER", provider.issuer)
    environment.setenv("PWPORTAL_IDP_CLIENT_SECRET", identity_provider.LOCAL_CLIENT_SECRET)
    environment.setenv("PWPORTAL_IDP_SCOPES", "openid profile groups")
    environment.setenv("PWPORTAL_IDP_REDIRECT_BASE", PORTAL)
    world.clock.set(datetime.now(timezone.utc))
    world.portal = bootstrap.override(clock=world.clock)
    world.settings = world.portal.settings
    return world
