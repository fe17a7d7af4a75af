"""A stage as .chalice/config.json states it: its environment variables and the settings the
code reads from them.

The template, the deploy, the local stack and the tests all read a stage from here, so that
what they name (tables, queues, the secrets parameter, the sender ID) is what the code will
look for when it runs on that stage.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

from chalicelib.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
LOCAL = "local"  # the stage of `make run` and the tests


def chalice_config() -> dict:
    """.chalice/config.json as it is committed."""
    return json.loads(CHALICE_CONFIG.read_text(encoding="utf-8"))


def stage_environment(stage: str = LOCAL) -> dict[str, str]:
    """The stage's variables from .chalice/config.json: the top level, then the stage's."""
    config = chalice_config()
    values = dict(config.get("environment_variables", {}))
    values.update(config["stages"][stage].get("environment_variables", {}))
    return values


@functools.cache
def stage_settings(stage: str) -> Settings:
    """The settings a stage runs with (its variables in .chalice/config.json), so that the
    template names what the code will look for."""
    return load_settings(stage_environment(stage))
