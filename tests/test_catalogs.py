"""Spanish only where it is served (issue 13): the compiled catalogs ship in the package, an
app whose catalog is missing or older than its .po compiles it at start-up, and a language is
offered (picker, browser, cookie, account, court documents) only when its catalog loaded."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from intervention import create_app
from intervention.config import ROOT
from intervention.extensions import db
from intervention.i18n import TRANSLATIONS, prepare_catalogs
from intervention.models import Role, User

from .conftest import csrf_token
from .helpers import signed_in

SPANISH_PO = TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po"


def only_po(folder: Path) -> Path:
    """A translations folder holding the Spanish .po and no compiled catalog."""
    target = folder / "es" / "LC_MESSAGES"
    target.mkdir(parents=True)
    shutil.copyfile(SPANISH_PO, target / "messages.po")
    return folder


@pytest.fixture
def app_with(monkeypatch):
    def start(translations: Path, instance: Path):
        """A second app, started on its own translations folder and instance folder."""
        monkeypatch.setenv("INTERVENTION_INSTANCE", str(instance))
        return create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "test-secret",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'unused.sqlite3'}",
                "TRANSLATIONS_PATH": str(translations),
            }
        )

    return start


def login_page(app, **headers) -> str:
    with app.test_client() as client:
        return client.get("/login", headers=headers).get_data(as_text=True)


# --- at start-up ------------------------------------------------------------------------------


def test_a_catalog_with_only_its_po_is_compiled_at_start_up_and_served(tmp_path, app_with):
    source = only_po(tmp_path / "translations")
    app = app_with(source, tmp_path / "instance")
    assert app.config["LANGUAGES"] == {"en": "English", "es": "Español"}
    # Compiled into the instance folder: the package folder is never written at run time.
    assert (tmp_path / "instance/translations/es/LC_MESSAGES/messages.mo").exists()
    assert not (source / "es/LC_MESSAGES/messages.mo").exists()
    page = login_page(app, **{"Accept-Language": "es"})
    assert '<html lang="es">' in page
    assert "Iniciar sesión" in page
    assert '<option value="es" lang="es" selected>Español</option>' in page


def test_an_app_without_catalogs_offers_english_only(tmp_path, app_with):
    (tmp_path / "translations").mkdir()
    app = app_with(tmp_path / "translations", tmp_path / "instance")
    assert app.config["LANGUAGES"] == {"en": "English"}
    page = login_page(app, **{"Accept-Language": "es"})
    assert '<html lang="en">' in page and "Sign in" in page
    assert "Español" not in page  # no picker offering what cannot be served
    with app.test_client() as client:
        client.set_cookie("lang", "es")
        assert '<html lang="en">' in client.get("/login").get_data(as_text=True)
        token = csrf_token(client, "/login")
        response = client.post("/language", data={"csrf_token": token, "language": "es"})
        assert response.status_code == 400  # the picker refuses what it does not offer


def test_a_catalog_older_than_its_po_is_compiled_again(tmp_path, app_with):
    source = only_po(tmp_path / "translations")
    po = source / "es/LC_MESSAGES/messages.po"
    with po.open("rb") as handle:
        catalog = read_po(handle, locale="es")
    catalog.get("Sign in").string = "Entrar (antiguo)"
    stale = source / "es/LC_MESSAGES/messages.mo"
    with stale.open("wb") as handle:
        write_mo(handle, catalog)
    os.utime(stale, (po.stat().st_mtime - 60,) * 2)  # compiled a minute before the last edit
    app = app_with(source, tmp_path / "instance")
    page = login_page(app, **{"Accept-Language": "es"})
    assert "Iniciar sesión" in page and "(antiguo)" not in page


def test_a_fresh_compiled_catalog_is_read_where_it_is(tmp_path):
    source = only_po(tmp_path / "translations")
    folder, languages = prepare_catalogs(source, tmp_path / "instance")
    assert (folder, languages) == (tmp_path / "instance", ["es"])
    shutil.copyfile(folder / "es/LC_MESSAGES/messages.mo", source / "es/LC_MESSAGES/messages.mo")
    assert prepare_catalogs(source, tmp_path / "elsewhere") == (source, ["es"])
    assert not (tmp_path / "elsewhere").exists()


def test_a_catalog_that_cannot_be_compiled_is_not_offered(tmp_path, caplog, app_with, monkeypatch):
    from intervention import i18n

    # The suite's migrations ran logging.config.fileConfig, which disables loggers that
    # existed then; a served app logs this at start-up, before any migration.
    monkeypatch.setattr(i18n.log, "disabled", False)
    broken = tmp_path / "translations" / "fr" / "LC_MESSAGES"
    broken.mkdir(parents=True)
    (broken / "messages.po").write_text('Sign in = Connexion\nmsgid "Sign in"\n')
    # A folder named after no locale at all is passed over too.
    unknown = tmp_path / "translations" / "xx_NOPE" / "LC_MESSAGES"
    unknown.mkdir(parents=True)
    shutil.copyfile(SPANISH_PO, unknown / "messages.po")
    only_po(tmp_path / "translations")
    app = app_with(tmp_path / "translations", tmp_path / "instance")
    assert app.config["LANGUAGES"] == {"en": "English", "es": "Español"}
    assert "fr" in caplog.text and "not offered" in caplog.text


# --- offered only when loaded -----------------------------------------------------------------


@pytest.fixture
def english_only(app, monkeypatch):
    """The suite's app as if its Spanish catalog had not loaded."""
    monkeypatch.setitem(app.config, "LANGUAGES", {"en": "English"})


def test_his_account_choice_of_an_unloaded_language_falls_back(app, english_only, make_user):

    man = make_user(Role.PARTICIPANT)
    man.locale = "es"
    db.session.commit()
    client = signed_in(app, man)
    page = client.get("/account").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert 'value="es"' not in page  # the account page does not offer it either
    assert db.session.get(User, man.id).locale == "es"  # his choice is kept for when it is back


def test_court_documents_are_not_offered_in_an_unloaded_language(app, english_only, make_user):

    admin = make_user(Role.ADMIN)
    db.session.commit()
    client = signed_in(app, admin)
    page = client.get("/admin/courts/new").get_data(as_text=True)
    [menu] = re.findall(r'<select[^>]*name="language">.*?</select>', page, re.S)
    assert re.findall(r'value="(\w+)"', menu) == ["en"]


# --- in the package ---------------------------------------------------------------------------


def test_the_package_build_compiles_the_catalogs(tmp_path):
    """The build step a wheel is made by (setup.py's build_py), on a checkout that never ran
    make: the compiled catalog is in what gets packaged, and the checkout is left alone.
    (`pip wheel . --no-deps` runs this same step; it needs the network for its build
    requirements, so the suite calls the step directly.)"""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(
        ROOT / "intervention",
        project / "intervention",
        ignore=shutil.ignore_patterns("*.mo", "__pycache__"),
    )
    built = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path / "lib")],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    mo = tmp_path / "lib/intervention/translations/es/LC_MESSAGES/messages.mo"
    folder, languages = prepare_catalogs(mo.parents[2], tmp_path / "instance")
    assert (folder, languages) == (mo.parents[2], ["es"])  # fresh: read where it was built
    assert not list(project.rglob("*.mo"))  # built for the package, not into the source
