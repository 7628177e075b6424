"""The workflow engine: definitions from YAML, one machine per workflow, the transition service."""

from flask import current_app

from .machines import Engine


def engine() -> Engine:
    """The running application's workflow engine."""
    return current_app.extensions["ratschlag.engine"]
