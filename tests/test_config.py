"""Settings: SECRET_KEY is required outside development and testing, with a clear message."""

import pytest

from intervention.config import ConfigError, load_config


def test_production_without_secret_key_refuses_to_start(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERVENTION_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        load_config(str(tmp_path))


def test_production_with_secret_key_uses_secure_cookies(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERVENTION_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 64)
    monkeypatch.setenv("INTERVENTION_AUDIT_KEY", "a" * 64)
    config = load_config(str(tmp_path))
    assert config["SECRET_KEY"] == "x" * 64
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["DEMO_MODE"] is False


def test_default_database_is_sqlite_under_instance(monkeypatch, tmp_path):
    monkeypatch.delenv("INTERVENTION_DATABASE_URL", raising=False)
    monkeypatch.setenv("INTERVENTION_ENV", "development")
    config = load_config(str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'intervention.sqlite3'}"
    assert config["DEMO_MODE"] is True


def test_database_url_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERVENTION_DATABASE_URL", "postgresql+psycopg://u@db/x")
    assert load_config(str(tmp_path))["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/x"


def test_postgresql_gets_a_bounded_pool_sized_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERVENTION_DATABASE_URL", "postgresql+psycopg://u@db/x")
    monkeypatch.setenv("INTERVENTION_DB_POOL_SIZE", "8")
    options = load_config(str(tmp_path))["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["pool_size"] == 8
    assert options["max_overflow"] == 2
    assert options["pool_pre_ping"] is True


def test_sqlite_keeps_the_default_pool(monkeypatch, tmp_path):
    monkeypatch.delenv("INTERVENTION_DATABASE_URL", raising=False)
    assert load_config(str(tmp_path))["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": True}


def test_gunicorn_settings_follow_the_environment(monkeypatch):
    import runpy

    from intervention.config import ROOT

    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("GUNICORN_THREADS", "6")
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert (settings["workers"], settings["threads"], settings["worker_class"]) == (3, 6, "gthread")
    assert settings["preload_app"] is False


def test_production_without_an_audit_key_refuses_to_start(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERVENTION_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 64)
    monkeypatch.delenv("INTERVENTION_AUDIT_KEY", raising=False)
    monkeypatch.delenv("INTERVENTION_AUDIT_KEY_FILE", raising=False)
    with pytest.raises(ConfigError, match="The audit key is not set"):
        load_config(str(tmp_path))
    monkeypatch.setenv("INTERVENTION_AUDIT_KEY", "short")
    with pytest.raises(ConfigError, match="at least 32 characters"):
        load_config(str(tmp_path))
    monkeypatch.delenv("INTERVENTION_AUDIT_KEY")
    monkeypatch.setenv("INTERVENTION_AUDIT_KEY_FILE", str(tmp_path / "missing.key"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path))
    (tmp_path / "missing.key").write_text("k" * 8)
    with pytest.raises(ConfigError, match="too short"):
        load_config(str(tmp_path))
    (tmp_path / "missing.key").write_text("k" * 64)
    config = load_config(str(tmp_path))
    assert config["AUDIT_KEY_FILE"] == str(tmp_path / "missing.key")
    assert config["AUDIT_KEY_CREATE"] is False


def test_development_keeps_the_audit_keys_and_checkpoints_in_the_instance(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERVENTION_ENV", "development")
    for name in ("KEY", "KEY_FILE", "SIGNING_KEY", "CHECKPOINTS", "CHECKPOINT_SECONDS"):
        monkeypatch.delenv(f"INTERVENTION_AUDIT_{name}", raising=False)
    config = load_config(str(tmp_path))
    assert config["AUDIT_KEY"] is None and config["AUDIT_KEY_CREATE"] is True
    assert config["AUDIT_KEY_FILE"] == str(tmp_path / "audit.key")
    assert config["AUDIT_SIGNING_KEY_FILE"] == str(tmp_path / "audit-signing-key.pem")
    assert config["AUDIT_CHECKPOINTS"] == str(tmp_path / "audit-checkpoints")
    assert config["AUDIT_CHECKPOINT_SECONDS"] == 10
