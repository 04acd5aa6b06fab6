"""The participant's pages in Spanish for a man whose account says so, and the progress he sees
at a glance on his home page, with the completion engine's own figures."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import force_locale

from intervention.extensions import db
from intervention.i18n import format_datetime
from intervention.models import AttendanceStatus, ReviewOutcome
from intervention.services import attendance as attendance_service
from intervention.services import completion
from intervention.services import reflections as reflection_service

from .conftest import csrf_token, login
from .helpers import answer, prompts_by_key, submit_answer, text_of, today


@pytest.fixture
def case(make_cohort, make_enrollment):
    """Ten days into a three-session cohort: sessions 1 and 2 attended, session 3 ahead;
    his first reflection accepted, his second returned to him for revision."""
    cohort = make_cohort(start=today() - timedelta(days=10))
    enrollment = make_enrollment(cohort=cohort)
    facilitator = cohort.facilitators[0]
    first, second, _third = cohort.sessions
    for session in (first, second):
        attendance_service.mark(session, enrollment, AttendanceStatus.PRESENT, 90, facilitator)
    prompts = prompts_by_key(enrollment)
    for key, outcome in (
        ("what-happened", ReviewOutcome.ACCEPTED),
        ("the-person-on-the-other-side", ReviewOutcome.RETURNED),
    ):
        text = answer(f"Answer{key.replace('-', '')}", prompts[key].min_words)
        attempt = submit_answer(enrollment, key, text)
        reflection_service.review(attempt, outcome, "Tell me more.", facilitator)
    db.session.commit()
    return enrollment


def spanish(enrollment):
    enrollment.participant.locale = "es"
    db.session.commit()
    return enrollment


def in_spanish(app, moment: datetime, tz: str) -> str:
    with app.test_request_context(), force_locale("es"):
        return format_datetime(moment, tz)


def get(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return text_of(response)


# --- progress at a glance ----------------------------------------------------------------------


def test_home_shows_sessions_and_reflections_as_the_completion_engine_counts_them(client, case):
    result = completion.evaluate(case)
    assert (result.sessions_credited, result.sessions_required) == (2, 3)
    assert (result.reflections_accepted, result.reflections_required) == (1, 4)
    login(client, case.participant)
    html = get(client, "/me/")

    assert '<label for="progress-sessions">2 of 3 sessions attended</label>' in html
    assert re.search(r'<progress id="progress-sessions"[^>]* value="2" max="3">', html)
    assert '<label for="progress-reflections">1 of 4 reflections accepted</label>' in html
    assert re.search(r'<progress id="progress-reflections"[^>]* value="1" max="4">', html)


def test_home_says_what_is_next_the_session_and_the_answer_to_revise(client, case):
    third = case.cohort.sessions[2]
    returned = prompts_by_key(case)["the-person-on-the-other-side"]
    login(client, case.participant)
    html = get(client, "/me/")
    glance = html[
        html.index("Your progress") : html.index("</section>", html.index("Your progress"))
    ]

    assert f"Session 3: {third.module.title}</a>, " in glance
    assert format_datetime(third.scheduled_at, case.cohort.timezone) in glance
    assert f'href="/me/reflections/{returned.id}">Revise your answer for session 2</a>' in glance


def test_with_nothing_left_to_write_home_says_so(client, case, make_cohort, make_enrollment):
    facilitator = case.cohort.facilitators[0]
    for key, prompt in prompts_by_key(case).items():
        if not prompt.required or key == "what-happened":
            continue
        attempt = submit_answer(case, key, answer("More", prompt.min_words))
        reflection_service.review(attempt, ReviewOutcome.ACCEPTED, "", facilitator)
    db.session.commit()
    login(client, case.participant)
    html = get(client, "/me/")
    assert "4 of 4 reflections accepted" in html
    assert "None. All your reflections are accepted." in html


# --- Spanish ------------------------------------------------------------------------------------


def test_home_in_spanish(app, client, case):
    login(client, spanish(case).participant)
    html = get(client, "/me/")
    third = case.cohort.sessions[2]
    assert '<html lang="es">' in html
    for expected in (
        "Su avance",
        "2 de 3 sesiones asistidas",
        "1 de 4 reflexiones aceptadas",
        "Próxima sesión",
        "Corrija su respuesta de la sesión 2",
        "Lo que todavía le falta hacer",
        "Esta semana",
        "Sesiones acreditadas",
        "Horas acreditadas",
        f"Sesión 3: {third.module.title}",
        in_spanish(app, third.scheduled_at, case.cohort.timezone),
    ):
        assert expected in html, expected
    for english in (
        "Your progress",
        "sessions attended",
        "What you still need to do",
        "This week",
        "Sessions credited",
        "Your sessions",
        "Read this week",
        "Session 3:",
    ):
        assert english not in html, english


def test_module_and_print_pages_in_spanish(client, case):
    login(client, spanish(case).participant)
    html = get(client, "/me/modules/1")
    for expected in (
        "Sus reflexiones de esta sesión",
        "Al menos 80 palabras",
        "Versión para imprimir",
        "Ver su respuesta",
        "Ruta de navegación",
    ):
        assert expected in html, expected
    for english in ("Your reflections for this session", "At least", "Printable version"):
        assert english not in html, english

    printable = get(client, "/me/modules/1?print=1")
    assert "Volver al módulo" in printable and "Back to the module" not in printable

    modules = get(client, "/me/modules")
    assert "Módulos" in modules and "Hecho" in modules and "Corrija su respuesta" in modules
    assert "Waiting for review" not in modules and "Revise your answer" not in modules


def test_reflection_page_and_its_script_messages_in_spanish(client, case):
    prompt = prompts_by_key(spanish(case))["the-person-on-the-other-side"]
    login(client, case.participant)
    html = get(client, f"/me/reflections/{prompt.id}")
    for expected in (
        "Su reflexión",
        "Comentarios de",
        "Guardar borrador",
        "Enviar para revisión",
        "Lleva 100 palabras.",  # the returned answer is in the box again
        'data-msg-saved="Borrador guardado a las {time}"',
        'data-msg-word="Lleva {n} palabra."',
        'data-msg-words="Lleva {n} palabras."',
        'data-msg-at-least="Escriba al menos {n}."',
        "Lo que usted envió",
    ):
        assert expected in html, expected
    for english in ("Your reflection", "Save draft", "Submit for review", "words now", "Draft "):
        assert english not in html, english


def test_the_autosave_answers_in_spanish(client, case):
    prompt = prompts_by_key(spanish(case))["the-person-on-the-other-side"]
    login(client, case.participant)
    page = f"/me/reflections/{prompt.id}"
    token = csrf_token(client, page)
    reflection = reflection_service.reflection_for(case, prompt)

    saved = client.post(
        f"{page}/draft",
        data={"csrf_token": token, "revision": reflection.draft_revision, "text": "Hola"},
    )
    assert saved.status_code == 200
    assert re.fullmatch(r"\d{1,2}:\d\d", saved.get_json()["saved_at"])  # 18:42, not 6:42 PM

    locked = prompts_by_key(case)["my-excuses"]
    assert locked.module.session_number == 3
    case.cohort.sessions[2].scheduled_at = datetime.now(UTC) + timedelta(days=30)
    db.session.commit()
    refused = client.post(
        f"/me/reflections/{locked.id}/draft",
        data={"csrf_token": token, "revision": 0, "text": "Hola"},
    )
    assert refused.status_code == 403
    assert refused.get_json()["message"] == (
        "Esta sesión todavía no está abierta. Su texto no se guardó."
    )


def test_reflections_schedule_and_data_pages_in_spanish(app, client, case):
    login(client, spanish(case).participant)
    tz = case.cohort.timezone
    first = case.cohort.sessions[0]

    reflections = get(client, "/me/reflections")
    for expected in ("Mis reflexiones", "Por corregir", "Aceptada", "Sus reflexiones por estado"):
        assert expected in reflections, expected
    for english in ("My reflections", "To revise", "Opens later"):
        assert english not in reflections, english

    schedule = get(client, "/me/schedule")
    for expected in (
        "Mi horario",
        "Todas las horas son de la hora de Los Angeles (America/Los_Angeles).",
        "Mantenga este enlace en privado.",
        "Crear un enlace nuevo",
        in_spanish(app, first.scheduled_at, tz),
    ):
        assert expected in schedule, expected
    for english in ("My schedule", "Keep this link private", "Make a new link", "Coming up"):
        assert english not in schedule, english

    data = get(client, "/me/data")
    for expected in ("Mis datos", "Su cuenta", "Cambios de estado", "Asistencia", "90 minutos"):
        assert expected in data, expected
    for english in ("My data", "Your account", "Changes of status", "minutes", "No certificate"):
        assert english not in data, english


def test_a_locked_module_says_when_it_opens_in_spanish(app, client, case):
    third = spanish(case).cohort.sessions[2]
    third.scheduled_at = datetime.now(UTC) + timedelta(days=30)
    db.session.commit()
    login(client, case.participant)
    response = client.get("/me/modules/3")
    assert response.status_code == 403
    html = text_of(response)
    assert "Este módulo todavía no está abierto. Se abre el <strong>" in html
    assert "This module is not open yet" not in html


def test_signed_out_his_text_comes_back_in_his_language(client, case):
    prompt = prompts_by_key(case)["the-person-on-the-other-side"]
    client.set_cookie("lang", "es")
    token = csrf_token(client, "/login")
    response = client.post(
        f"/me/reflections/{prompt.id}",
        data={"text": "Mi respuesta", "revision": "0", "csrf_token": token},
    )
    assert response.status_code == 401
    html = text_of(response)
    for expected in ("Se cerró su sesión", "Su texto no se guardó.", "Mi respuesta"):
        assert expected in html, expected
    assert "Your text was not saved" not in html
