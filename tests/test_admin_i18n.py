"""The director's and the clerk's pages in Spanish for staff who chose it, and each court's
language of documents, chosen on the court form."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from intervention.extensions import db
from intervention.models import Court, Role

from .helpers import post_form, signed_in, text_of


def spanish(user):
    user.locale = "es"
    db.session.commit()
    return user


@pytest.fixture
def director(app, make_user):
    return signed_in(app, spanish(make_user(Role.ADMIN)))


@pytest.fixture
def case(make_enrollment):
    return make_enrollment(case_number="ES-26-00001")


@pytest.fixture
def clerk(app, make_user, case):
    return signed_in(app, spanish(make_user(Role.CLERK, court=case.court)))


@pytest.mark.parametrize(
    ("url", "spanish_text", "english_text"),
    [
        ("/admin/", "Resumen del programa", "Program overview"),
        ("/admin/", "Tasas de finalización y de incumplimiento por mes", "Recent certificates"),
        ("/admin/courts", "Agregar un tribunal", "Add a court"),
        ("/admin/courts/new", "Idioma de los documentos judiciales", "Language of court"),
        ("/admin/cohorts", "Nuevo grupo", "New cohort"),
        ("/admin/enrollments", "Inscribir a un participante", "Enroll a participant"),
        ("/admin/enrollments/new", "Inscribir a un participante", "Enroll a participant"),
        ("/admin/staff", "Invitar a un miembro del personal", "Invite a staff member"),
        ("/admin/audit", "Registro de auditoría", "Export CSV"),
        ("/admin/holds", "Retenciones legales", "Legal holds"),
    ],
)
def test_the_directors_pages_speak_spanish(director, case, url, spanish_text, english_text):
    page = text_of(director.get(url))
    assert '<html lang="es">' in page
    assert spanish_text in page
    assert english_text not in page


def test_a_cohort_page_in_spanish(director, case):
    page = text_of(director.get(f"/admin/cohorts/{case.cohort_id}"))
    assert "Cuadro de asistencia" in page
    assert "los " in page.split("Se reúne", 1)[1][:200]  # "los martes a las ..."
    assert "Sessions" not in page


def test_the_clerks_case_list_speaks_spanish(clerk, case):
    page = text_of(clerk.get("/court/"))
    assert "Número de expediente o nombre" in page
    assert "Descargar estos casos en CSV" in page
    assert "Cualquier estado" in page and "Any status" not in page
    assert "Activo" in page or "Activa" in page  # the case's state, from the model's label


def test_the_clerks_case_page_speaks_spanish(clerk, case):
    page = text_of(clerk.get(f"/court/cases/{case.id}"))
    for text in ("Sesiones acreditadas", "Reflexiones aceptadas", "Asistencia", "Cronología"):
        assert text in page
    assert "Timeline" not in page and "Sessions credited" not in page


def test_the_clerks_csv_stays_in_english(clerk, case):
    """Court systems import it: its headers and values are a format, not the clerk's language."""
    body = clerk.get("/court/cases.csv").get_data().decode("utf-8-sig")
    header, row = body.splitlines()[:2]
    assert header.startswith("case_number,participant,referral_type")
    assert "Pre-filing diversion" in row and ",Active," in row


def test_form_errors_come_back_in_spanish(director):
    response = post_form(director, "/admin/courts/new", {"name": "", "jurisdiction": ""})
    assert response.status_code == 422
    assert "Indique el nombre." in text_of(response)


def court_form(**values) -> dict:
    return {
        "name": "Juzgado de Paz de Yakima",
        "jurisdiction": "Yakima County, Washington",
        "timezone": "America/Los_Angeles",
        "other_timezone": "",
        "notice_deadline_days": "7",
        "language": "es",
        **values,
    }


def test_a_court_keeps_the_language_of_its_documents(app, make_user):
    director = signed_in(app, make_user(Role.ADMIN))
    response = post_form(director, "/admin/courts/new", court_form())
    assert response.status_code == 302, text_of(response)
    court = db.session.scalar(sa.select(Court).where(Court.name == "Juzgado de Paz de Yakima"))
    assert court.language == "es"
    listed = text_of(director.get("/admin/courts"))
    assert "Documents in" in listed and '<td lang="es">Español</td>' in listed

    edit = f"/admin/courts/{court.id}/edit"
    assert '<option selected value="es">Español</option>' in text_of(director.get(edit))
    response = post_form(director, edit, court_form(language="en"))
    assert response.status_code == 302, text_of(response)
    db.session.refresh(court)
    assert court.language == "en"


def test_a_court_without_a_language_chosen_writes_english(app, make_user):
    director = signed_in(app, make_user(Role.ADMIN))
    values = court_form(name="Bellevue Municipal Court")
    del values["language"]
    assert post_form(director, "/admin/courts/new", values).status_code == 302
    court = db.session.scalar(sa.select(Court).where(Court.name == "Bellevue Municipal Court"))
    assert court.language == "en"


def test_a_language_we_do_not_write_is_refused(app, make_user):
    director = signed_in(app, make_user(Role.ADMIN))
    response = post_form(director, "/admin/courts/new", court_form(language="fr"))
    assert response.status_code == 422
    assert db.session.scalar(sa.select(Court).where(Court.language == "fr")) is None
