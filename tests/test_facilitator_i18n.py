"""The facilitator's pages in Spanish: a facilitator who chose Spanish reads his cohorts, the
cohort grid and its legend, the roster, the review queue and the case pages in Spanish, and the
messages after he saves attendance or a review are Spanish too."""

from __future__ import annotations

import re

import pytest

from intervention.extensions import db
from intervention.models import AttendanceStatus
from intervention.services import attendance as attendance_service

from .helpers import (
    REQUIRED_PROMPTS,
    answer,
    post_form,
    signed_in,
    submit_answer,
    text_of,
)


@pytest.fixture
def spanish(app, make_cohort, make_enrollment, make_user):
    """A cohort whose facilitator reads Spanish, one man in it, and his answer waiting for
    review. Returns (signed-in client, enrollment, attempt)."""
    cohort = make_cohort()
    facilitator = cohort.facilitators[0]
    facilitator.locale = "es"
    enrollment = make_enrollment(cohort=cohort, participant=make_user(name="Mateo Ruiz"))
    attempt = submit_answer(
        enrollment, "what-happened", answer("Qzrespuesta", REQUIRED_PROMPTS["what-happened"])
    )
    db.session.commit()
    client = signed_in(app, facilitator)
    return client, enrollment, attempt


def page(client, url: str) -> str:
    html = text_of(client.get(url))
    assert '<html lang="es">' in html, url
    return html


def test_his_cohorts_and_the_grid_are_in_spanish(spanish):
    client, enrollment, _attempt = spanish
    home = page(client, "/facilitator/")
    assert "<h1>Grupos</h1>" in home
    assert "1 reflexión en espera de revisión" in home
    assert "<dt>En riesgo</dt>" in home and ">Por revisar</a></dt>" in home

    grid = page(client, f"/facilitator/cohorts/{enrollment.cohort.id}")
    assert 'aria-label="Cuadro de asistencia, se desplaza hacia los lados"' in grid
    assert '<th scope="col" class="sticky-col">Nombre</th>' in grid
    assert "sesiones acreditadas" in grid and "reflexiones aceptadas" in grid
    assert "realizada, sin marcar" in grid and "antes de la inscripción" in grid
    assert "ya no puede completar el programa" in grid
    assert "Tomar asistencia" in grid


def test_the_grid_letters_follow_his_language(spanish):
    client, enrollment, _attempt = spanish
    sessions = enrollment.cohort.sessions
    facilitator = enrollment.cohort.facilitators[0]
    attendance_service.mark(sessions[0], enrollment, AttendanceStatus.LATE, 100, facilitator)
    attendance_service.mark(sessions[1], enrollment, AttendanceStatus.EXCUSED, 0, facilitator)
    db.session.commit()
    grid = page(client, f"/facilitator/cohorts/{enrollment.cohort.id}")
    marks = re.findall(r'class="num mark mark-(\w+)"><abbr title="[^"]*">(\w)</abbr>', grid)
    assert ("late", "T") in marks and ("excused", "J") in marks
    # The legend uses the same letters as the cells.
    assert '<span class="mark mark-late">T</span>' in grid
    assert '<span class="mark mark-excused">J</span>' in grid


def test_taking_attendance_in_spanish(spanish):
    client, enrollment, _attempt = spanish
    session = enrollment.cohort.sessions[0]
    url = f"/facilitator/sessions/{session.id}/attendance"
    roster = page(client, url)
    assert f"Asistencia: sesión 1, {session.module.title}" in roster
    assert "Guardar la asistencia" in roster and "Registrar una recuperación" in roster
    index = re.search(rf'name="rows-(\d+)-enrollment_id"[^>]*value="{enrollment.id}"', roster)
    row = index.group(1)
    response = post_form(
        client,
        url,
        {f"rows-{row}-enrollment_id": str(enrollment.id), f"rows-{row}-status": "present"},
    )
    assert response.status_code == 302, text_of(response)
    shown = page(client, response.headers["Location"])
    assert "Asistencia guardada para la sesión 1 (1 cambio)." in shown


def test_reviewing_in_spanish(spanish):
    client, enrollment, attempt = spanish
    queue = page(client, "/facilitator/reviews")
    assert "<h1>Reflexiones por revisar</h1>" in queue
    assert "1 en espera, las más antiguas primero." in queue
    assert "en espera desde hace menos de una hora" in queue

    url = f"/facilitator/reviews/{attempt.id}"
    review = page(client, url)
    assert "<h2>Su revisión</h2>" in review and "Guardar la revisión" in review
    assert "<h2>Su avance</h2>" in review and "Abrir su expediente" in review
    response = post_form(client, url, {"outcome": "accepted", "comment": ""})
    assert response.status_code == 302, text_of(response)
    shown = page(client, response.headers["Location"])
    assert "Revisión guardada: " in shown
    assert "No queda nada por revisar." in shown


def test_his_record_and_the_case_page_in_spanish(spanish):
    client, enrollment, _attempt = spanish
    record = page(client, f"/facilitator/enrollments/{enrollment.id}")
    assert "<h2>Avisos al tribunal</h2>" in record
    assert "Descargar su expediente (CSV)" in record
    assert "Caso: estado, documentos y acciones" in record

    case = page(client, f"/cases/{enrollment.id}")
    assert "<h2>Documentos para el tribunal</h2>" in case
    assert "Generar un informe de progreso" in case
    assert '<label for="to_state">Nuevo estado</label>' in case


def test_english_stays_english(spanish):
    client, enrollment, _attempt = spanish
    enrollment.cohort.facilitators[0].locale = "en"
    db.session.commit()
    grid = text_of(client.get(f"/facilitator/cohorts/{enrollment.cohort.id}"))
    assert '<html lang="en">' in grid and "Take attendance" in grid
    assert '<span class="mark mark-late">L</span>' in grid
