"""Settings: production unless INTERVENTION_ENV says development (or testing); production
needs its own SECRET_KEY of at least 32 bytes, development keeps a random one in the instance
folder, and demo data and demo accounts stay out of production."""

import os
import stat
import subprocess
import sys

import pytest
import sqlalchemy as sa
from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface

from intervention.config import ROOT, ConfigError, load_config
from intervention.extensions import db
from intervention.models import User

from .helpers import text_of

# The key every development server signed its cookies with before issue 13: public, in git.
OLD_BUILT_IN_KEY = "dev-only-insecure-key"


@pytest.fixture(autouse=True)
def signing_key(monkeypatch, tmp_path_factory):
    """Production needs the program's signing key and certificate (issue 14): these tests are
    about other settings, so they get a development pair."""
    from intervention.signing import make_dev_ca

    paths = make_dev_ca(tmp_path_factory.mktemp("signing"))
    monkeypatch.setenv("INTERVENTION_SIGNING_KEY", str(paths["key"]))
    monkeypatch.setenv("INTERVENTION_SIGNING_CERT", str(paths["cert"]))


@pytest.fixture
def no_settings(monkeypatch):
    """A shell with none of our settings, as a bare `gunicorn -c gunicorn.conf.py wsgi:app`."""
    for name in ("INTERVENTION_ENV", "SECRET_KEY", "INTERVENTION_DEMO", "INTERVENTION_AUDIT_KEY"):
        monkeypatch.delenv(name, raising=False)


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
    monkeypatch.setenv("INTERVENTION_ENV", "development")
    monkeypatch.setenv("INTERVENTION_DATABASE_URL", "postgresql+psycopg://u@db/x")
    assert load_config(str(tmp_path))["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/x"


def test_postgresql_gets_a_bounded_pool_sized_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERVENTION_ENV", "development")
    monkeypatch.setenv("INTERVENTION_DATABASE_URL", "postgresql+psycopg://u@db/x")
    monkeypatch.setenv("INTERVENTION_DB_POOL_SIZE", "8")
    options = load_config(str(tmp_path))["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["pool_size"] == 8
    assert options["max_overflow"] == 2
    assert options["pool_pre_ping"] is True


def test_sqlite_keeps_the_default_pool(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERVENTION_ENV", "development")
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


def test_no_environment_setting_means_production_which_refuses_to_start_without_a_key(
    no_settings, tmp_path
):
    with pytest.raises(ConfigError) as refused:
        load_config(str(tmp_path))
    message = str(refused.value)
    assert "SECRET_KEY is not set" in message
    assert "secrets.token_hex(32)" in message  # says how to make one
    assert "INTERVENTION_ENV=development" in message


@pytest.mark.parametrize("name", ["", "staging", "prod", "Development", "dev"])
def test_anything_but_development_or_testing_is_production(
    no_settings, monkeypatch, tmp_path, name
):
    monkeypatch.setenv("INTERVENTION_ENV", name)
    monkeypatch.setenv("SECRET_KEY", "k" * 32)
    monkeypatch.setenv("INTERVENTION_AUDIT_KEY", "a" * 32)
    config = load_config(str(tmp_path))
    assert config["ENV_NAME"] == "production"
    assert config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize("key", ["x" * 31, "short", OLD_BUILT_IN_KEY])
def test_production_refuses_a_key_shorter_than_32_bytes(no_settings, monkeypatch, tmp_path, key):
    monkeypatch.setenv("INTERVENTION_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", key)
    with pytest.raises(ConfigError, match=f"SECRET_KEY is {len(key)} bytes long; production"):
        load_config(str(tmp_path))


def test_a_bare_wsgi_start_refuses_with_the_message_not_a_server(tmp_path):
    """What gunicorn does first: import wsgi:app, with no settings at all."""
    env = {k: v for k, v in os.environ.items() if k not in ("INTERVENTION_ENV", "SECRET_KEY")}
    env["INTERVENTION_INSTANCE"] = str(tmp_path)
    started = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode != 0
    assert "SECRET_KEY is not set" in started.stderr


def test_development_gets_a_random_key_kept_in_the_instance_folder(
    no_settings, monkeypatch, tmp_path
):
    monkeypatch.setenv("INTERVENTION_ENV", "development")
    first = load_config(str(tmp_path / "one"))["SECRET_KEY"]
    assert first != OLD_BUILT_IN_KEY and len(first) >= 64
    # A restart reads the same key back, so sessions survive it.
    assert load_config(str(tmp_path / "one"))["SECRET_KEY"] == first
    kept = tmp_path / "one" / "secret_key"
    assert kept.read_text().strip() == first
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    # Another instance folder, another key.
    assert load_config(str(tmp_path / "two"))["SECRET_KEY"] != first
    # A damaged key file is replaced, not trusted.
    kept.write_text("abc")
    renewed = load_config(str(tmp_path / "one"))["SECRET_KEY"]
    assert len(renewed) >= 64 and kept.read_text().strip() == renewed


def test_a_cookie_signed_with_the_old_built_in_key_is_not_a_session(
    no_settings, monkeypatch, tmp_path
):
    """The attack of issue 13: a session cookie for user 1 forged with the public key."""
    monkeypatch.setenv("INTERVENTION_ENV", "development")
    interface = SecureCookieSessionInterface()
    forger = Flask("forger")
    forger.secret_key = OLD_BUILT_IN_KEY
    forged = interface.get_signing_serializer(forger).dumps({"_user_id": "1", "_fresh": True})
    target = Flask("target")
    target.secret_key = load_config(str(tmp_path))["SECRET_KEY"]
    with target.test_request_context(headers={"Cookie": f"session={forged}"}):
        session = interface.open_session(target, request)
    assert session is not None and "_user_id" not in session


def test_production_never_lists_demo_accounts_even_when_asked(no_settings, monkeypatch, tmp_path):
    monkeypatch.setenv("INTERVENTION_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "k" * 64)
    monkeypatch.setenv("INTERVENTION_AUDIT_KEY", "a" * 32)
    monkeypatch.setenv("INTERVENTION_DEMO", "1")
    assert load_config(str(tmp_path))["DEMO_MODE"] is False
    assert load_config(str(tmp_path), {"DEMO_MODE": True})["DEMO_MODE"] is False


def test_the_sign_in_page_lists_no_demo_account_in_production(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "DEMO_MODE", True)
    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    page = text_of(client.get("/login"))
    assert "demo.test" not in page and "Demo accounts" not in page


@pytest.mark.parametrize(
    "args", [["seed-demo"], ["seed-demo", "--if-empty"], ["seed-demo", "--scale", "2"]]
)
def test_seed_demo_refuses_in_production(app, runner, monkeypatch, args):
    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert "Refused: seed-demo adds accounts with published passwords" in result.output
    assert "INTERVENTION_ENV=development" in result.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_the_demo_data_services_refuse_in_production_too(app, monkeypatch):
    from intervention.demo import DemoRefused, ScaleRefused, generate, seed

    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    with pytest.raises(DemoRefused, match="never added in production"):
        seed()
    with pytest.raises(ScaleRefused, match="never added in production"):
        generate(2)


def test_make_run_sets_development_for_every_step():
    """`make run` must not depend on the caller's shell: each flask step names development."""
    plan = subprocess.run(
        ["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    steps = [line for line in plan.splitlines() if "--app intervention" in line]
    # db upgrade, curriculum sync, seed-demo, signing init (issue 14: the development CA), run
    assert len(steps) == 5
    assert all("INTERVENTION_ENV=development" in line for line in steps)


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
