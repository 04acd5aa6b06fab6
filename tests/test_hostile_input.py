"""Hostile input never gives a 500 (issue 13, item 5): control characters in forms, query
strings and addresses are refused with a message in the reader's language (or removed from
prose, where they are harmless), ids past what the database holds are absent pages, page
numbers past the end show the last page, and dates past what the program can use get a message.

PostgreSQL refuses NUL in text and 64-bit overflows where SQLite shrugs; run this file on both.
"""

from __future__ import annotations

import io

import pytest
from werkzeug.routing import IntegerConverter

from intervention.extensions import db
from intervention.models import Role

from .conftest import csrf_token
from .helpers import prompts_by_key, signed_in, text_of
from .test_access import FORM_DATA, World, world  # noqa: F401  (world: the fixture)
from .test_confidentiality import all_requests

P, F, C, A = Role.PARTICIPANT, Role.FACILITATOR, Role.CLERK, Role.ADMIN
HOME = {P: "/me/", F: "/facilitator/", C: "/court/", A: "/admin/"}

HUGE = 99999999999999999999  # past 2^64
PAST_INT32 = 2**31  # past PostgreSQL's INTEGER, within BIGINT
PAGE_MAX = "9223372036854775807"  # 2^63 - 1: the offset it asks for overflows BIGINT

ADDRESS_REFUSED = "This address contains a control character"
FIELD_REFUSED = "This contains a control character, which cannot be used here."


def no_server_error(response, what: str) -> None:
    assert response.status_code < 500, (what, response.status_code, text_of(response)[:1500])
    if response.status_code >= 400:
        assert response.get_data(), (what, "an error with no message")


# --- the requests that used to answer 500 on PostgreSQL -------------------------------------


def test_sign_in_with_a_nul_in_the_email_is_refused_with_a_message(client):
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": "a\x00b@x.y", "password": "whatever", "csrf_token": token}
    )
    no_server_error(response, "login")
    assert FIELD_REFUSED in text_of(response)
    assert client.get("/me/").status_code == 302  # still signed out


def test_a_verification_code_ending_in_nul_is_refused_with_a_message(client):
    token = csrf_token(client, "/verify")
    response = client.post("/verify", data={"code": "ABCD-EFGH-JKMN-PQRS\x00", "csrf_token": token})
    no_server_error(response, "verify")
    assert FIELD_REFUSED in text_of(response)


@pytest.mark.parametrize(
    "url",
    [
        "/verify/AAAAAAAAAAAAAAA%00",
        "/calendar/abc%00.ics",
        "/welcome/abc%00def",
        "/login?next=/me/%00",
        "/verify?code=%01",
        "/static/css/app.css%00",
    ],
)
def test_a_control_character_in_an_address_is_refused_with_a_message(client, url):
    response = client.get(url)
    assert response.status_code == 400, text_of(response)[:1500]
    assert ADDRESS_REFUSED in text_of(response)


def test_the_address_message_is_in_the_readers_language(client):
    response = client.get("/verify/AAAA%00", headers={"Accept-Language": "es"})
    assert response.status_code == 400
    assert "Esta dirección contiene un carácter de control" in text_of(response)
    assert ADDRESS_REFUSED not in text_of(response)


def test_the_field_message_is_in_the_readers_language(client):
    client.get("/login", headers={"Accept-Language": "es"})
    token = csrf_token(client, "/login")
    response = client.post(
        "/login",
        data={"email": "a\x00b@x.y", "password": "x", "csrf_token": token},
        headers={"Accept-Language": "es"},
    )
    assert "Contiene un carácter de control, que no se puede usar aquí." in text_of(response)


def test_searches_with_a_nul_are_refused_with_a_message(app, world):  # noqa: F811
    clerk = signed_in(app, world.clerk)
    response = clerk.get("/court/?q=%00")
    assert response.status_code == 400
    assert ADDRESS_REFUSED in text_of(response)
    admin = signed_in(app, world.admin)
    for url in [
        "/admin/enrollments?q=%00",
        "/admin/holds?q=%00",
        "/admin/audit?actor=%00",
        "/admin/audit.csv?actor=a%00",
        "/admin/enrollments/new?find=%00",
        "/facilitator/reviews?state=%00",
    ]:
        response = admin.get(url)
        assert response.status_code == 400, url
        assert ADDRESS_REFUSED in text_of(response), url


def test_a_json_client_gets_the_refusal_as_json(app, world):  # noqa: F811
    clerk = signed_in(app, world.clerk)
    response = clerk.get("/court/api/cases/KC%00", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.is_json
    assert ADDRESS_REFUSED in response.get_json()["message"]


def test_a_draft_with_nul_is_saved_without_it_keeping_tabs_and_newlines(app, world):  # noqa: F811
    me = signed_in(app, world.participant)
    prompt = prompts_by_key(world.enrollment)["my-excuses"]
    page = f"/me/reflections/{prompt.id}"
    text = "First\x00 line\twith a tab\r\nSecond\x1b line\x7f\n\nThird"
    response = me.post(
        f"{page}/draft",
        data={"text": text, "revision": "0", "csrf_token": csrf_token(me, page)},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, text_of(response)
    from intervention.services import reflections as reflection_service

    db.session.expire_all()
    reflection = reflection_service.reflection_for(world.enrollment, prompt)
    assert reflection.draft_text == "First line\twith a tab\r\nSecond line\n\nThird"


def test_a_single_line_field_keeps_stripping_surrounding_whitespace(client):
    """A tab or newline around a pasted code is harmless and removed, not refused."""
    token = csrf_token(client, "/verify")
    response = client.post("/verify", data={"code": "\tABCD-EFGH\r\n", "csrf_token": token})
    assert response.status_code == 404
    assert FIELD_REFUSED not in text_of(response)
    assert "No certificate has this code" in text_of(response)


# --- ids and page numbers past what the database holds --------------------------------------


@pytest.mark.parametrize("number", [HUGE, PAST_INT32, 2**63, 2**63 - 1])
def test_an_id_past_what_the_database_holds_is_an_absent_page(app, world, number):  # noqa: F811
    clerk = signed_in(app, world.clerk)
    response = clerk.get(f"/court/cases/{number}")
    assert response.status_code == 404
    assert "There is no page at this address" in text_of(response)


@pytest.mark.parametrize("page", [PAGE_MAX, "99999999999999999999999", "2147483648", "-3", "x"])
def test_a_page_past_the_end_shows_the_last_page(app, world, page):  # noqa: F811
    admin = signed_in(app, world.admin)
    response = admin.get(f"/admin/enrollments?page={page}")
    assert response.status_code == 200, text_of(response)[:1500]
    assert world.enrollment.case_number in text_of(response)
    clerk = signed_in(app, world.clerk)
    response = clerk.get(f"/court/?page={page}")
    assert response.status_code == 200
    assert world.enrollment.case_number in text_of(response)


# --- dates past what the program can use ------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("9999-12-01", "9999-12-31", "Give a date from 1900 to 2199."),
        ("0000-01-01", "2026-01-31", "Not a valid date value."),
        ("2026-01-01", "0001-01-01", "Give a date from 1900 to 2199."),
        ("garbage", "2026-01-31", "Not a valid date value."),
    ],
)
def test_export_dates_out_of_range_get_a_message(app, world, start, end, message):  # noqa: F811
    clerk = signed_in(app, world.clerk)
    response = clerk.get(f"/court/export.zip?from={start}&to={end}")
    assert response.status_code == 302
    assert message in text_of(clerk.get(response.headers["Location"]))


def test_date_messages_are_in_the_readers_language(app, world):  # noqa: F811
    world.clerk.locale = "es"
    db.session.commit()
    clerk = signed_in(app, world.clerk)
    response = clerk.get("/court/export.zip?from=9999-12-01&to=9999-12-31")
    assert "Indique una fecha entre 1900 y 2199." in text_of(
        clerk.get(response.headers["Location"])
    )


def test_audit_dates_out_of_range_get_a_message(app, world):  # noqa: F811
    admin = signed_in(app, world.admin)
    response = admin.get("/admin/audit?since=9999-12-31&until=9999-12-31")
    assert response.status_code == 200
    assert "Give a date from 1900 to 2199." in text_of(response)
    response = admin.get("/admin/audit.csv?since=9999-12-31&until=9999-12-31")
    assert response.status_code < 500


# --- every GET route, as everyone, with hostile addresses -------------------------------------


def hostile_urls(app, world: World) -> list[tuple[str, str, int | None]]:  # noqa: F811
    """(what, url, the status it must get, or None for "anything but a 500")."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        ints = integer_arguments(rule)
        texts = [n for n in rule.arguments if n not in ints]
        for number in (HUGE, PAST_INT32) if ints else ():
            values = {n: number for n in ints} | {n: "x" for n in texts}
            urls.append((f"{rule.endpoint} id={number}", _build(rule, values), 404))
        if texts:
            values = {n: 1 for n in ints} | {n: "abc\x00def" for n in texts}
            urls.append((f"{rule.endpoint} NUL in path", _build(rule, values), 400))
    for endpoint, method, url in all_requests(app, world):
        if method != "GET" or endpoint == "auth.logout":
            continue
        joiner = "&" if "?" in url else "?"
        urls.append((f"{endpoint} ?q=NUL", f"{url}{joiner}q=%00&page=%00", 400))
        for page in (PAGE_MAX, "-1", "1e9"):
            urls.append((f"{endpoint} ?page={page}", f"{url}{joiner}page={page}", None))
    return urls


def integer_arguments(rule) -> list[str]:
    return [n for n, conv in rule._converters.items() if isinstance(conv, IntegerConverter)]


def _build(rule, values: dict) -> str:
    return rule.build(values, append_unknown=False)[1]


@pytest.mark.parametrize("role", [None, *Role], ids=lambda r: r.value if r else "anonymous")
def test_no_get_route_answers_500_to_hostile_addresses(app, world, role):  # noqa: F811
    client = signed_in(app, world.user(role)) if role else app.test_client()
    wrong = []
    for what, url, status in hostile_urls(app, world):
        try:
            response = client.get(url)
            response.get_data()  # a streamed download fails while it streams, if it does
        except Exception as exc:  # the testing app raises what would have been a 500
            wrong.append(f"{what}: GET {url} raised {exc!r}"[:300])
            continue
        finally:
            db.session.rollback()
        if response.status_code >= 500 or (status is not None and response.status_code != status):
            wrong.append(f"{what}: GET {url} -> {response.status_code}, want {status or '< 500'}")
        elif response.status_code >= 400 and not response.get_data():
            wrong.append(f"{what}: GET {url} -> {response.status_code} with no message")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", [None, *Role], ids=lambda r: r.value if r else "anonymous")
def test_no_post_route_answers_500_to_ids_past_the_database(app, world, role):  # noqa: F811
    client = signed_in(app, world.user(role)) if role else app.test_client()
    token = csrf_token(client, HOME[role] if role else "/login")
    wrong = []
    for rule in app.url_map.iter_rules():
        ints = integer_arguments(rule)
        if "POST" not in rule.methods or not ints:
            continue
        for number in (HUGE, PAST_INT32):
            url = _build(rule, dict.fromkeys(rule.arguments, "x") | dict.fromkeys(ints, number))
            data = {**FORM_DATA.get(rule.endpoint, {}), "csrf_token": token}
            try:
                response = client.post(url, data=data)
            except Exception as exc:  # the testing app raises what would have been a 500
                wrong.append(f"POST {url} raised {exc!r}"[:300])
                continue
            finally:
                db.session.rollback()
            if response.status_code != 404:
                wrong.append(f"POST {url} -> {response.status_code}, want 404")
    assert not wrong, "\n".join(wrong)


def test_a_roster_file_with_control_characters_is_refused_line_by_line(app, world):  # noqa: F811
    client = signed_in(app, world.facilitator)
    url = f"/facilitator/sessions/{world.session.id}/import"
    case = world.enrollment.case_number
    data = f"case_number,status,minutes,note\n{case},present,90,bus\x00 late\n".encode()
    response = client.post(
        url,
        data={"csrf_token": csrf_token(client, url), "file": (io.BytesIO(data), "roster.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422, text_of(response)[:1500]
    assert "line 2: the note cell contains a control character." in text_of(response)
    db.session.expire_all()
    assert world.enrollment.attendance == []
