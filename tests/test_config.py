"""Configuration: environment, then instance/config.py, then defaults; a secret key made once."""
from __future__ import annotations

import stat

from app import config, create_app
from tests.conftest import REPO


def test_priority_environment_then_instance_file_then_defaults(tmp_path, monkeypatch):
    for variable in config.ENVIRONMENT:
        monkeypatch.delenv(variable, raising=False)
    defaults = config.load(tmp_path)
    assert defaults["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'ratschlag.sqlite3'}"
    assert defaults["WORKFLOWS_DIR"] == str(REPO / "app" / "workflows")
    (tmp_path / "config.py").write_text(
        "SQLALCHEMY_DATABASE_URI = 'sqlite:///from-file.db'\nWORKFLOWS_DIR = '/from/file'\nlowercase = 'ignored'\n")
    from_file = config.load(tmp_path)
    assert (from_file["SQLALCHEMY_DATABASE_URI"], from_file["WORKFLOWS_DIR"]) == ("sqlite:///from-file.db", "/from/file")
    assert "lowercase" not in from_file
    monkeypatch.setenv("RATSCHLAG_DATABASE_URL", "postgresql+psycopg://db/ratschlag")
    from_env = config.load(tmp_path)
    assert from_env["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://db/ratschlag"
    assert from_env["WORKFLOWS_DIR"] == "/from/file"


def test_the_instance_folder_is_the_checkouts_or_beside_the_installed_package(tmp_path, monkeypatch):
    monkeypatch.delenv("RATSCHLAG_INSTANCE_PATH", raising=False)
    assert config.instance_path() == (REPO / "instance").resolve()
    # Installed from the wheel: no pyproject.toml beside the package, so Flask's convention.
    monkeypatch.setattr(config, "PACKAGE_ROOT", tmp_path / "site-packages" / "app")
    monkeypatch.setattr(config.sys, "prefix", str(tmp_path / "venv"))
    assert config.instance_path() == tmp_path / "venv" / "var" / "ratschlag-instance"
    monkeypatch.setenv("RATSCHLAG_INSTANCE_PATH", str(tmp_path / "chosen"))
    assert config.instance_path() == tmp_path / "chosen"


def test_the_secret_key_is_generated_once_and_kept_private(tmp_path, monkeypatch):
    monkeypatch.delenv("RATSCHLAG_SECRET_KEY", raising=False)
    instance = tmp_path / "instance"
    first = create_app({"INSTANCE_PATH": str(instance), "SECRET_KEY": None})
    key_file = instance / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700  # the SQLite file inside is no one else's either
    assert len(first.config["SECRET_KEY"]) >= 40
    second = create_app({"INSTANCE_PATH": str(instance), "SECRET_KEY": None})
    assert second.config["SECRET_KEY"] == first.config["SECRET_KEY"]
    other = create_app({"INSTANCE_PATH": str(tmp_path / "elsewhere"), "SECRET_KEY": None})
    assert other.config["SECRET_KEY"] != first.config["SECRET_KEY"]


def test_an_environment_secret_key_is_used_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("RATSCHLAG_SECRET_KEY", "from-the-environment")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()

