"""The journeys' main pages with the Spanish interface (the `lang` cookie a visitor sets with
the language picker): each says html lang="es" and shows its heading or buttons in Spanish,
and stays free of serious axe-core findings in Spanish too."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from .support import CLERK, DONE_CASE, FACILITATOR, PARTICIPANT, AxeAudit


class SpanishPages:
    """Checks each page as it comes and keeps what is missing, so that one assertion at the end
    lists every page still in English rather than stopping at the first."""

    def __init__(self) -> None:
        self.audit = AxeAudit()
        self.missing: list[str] = []

    def check(self, page: Page, *texts: str) -> None:
        page.wait_for_load_state("load")
        lang = page.locator("html").get_attribute("lang")
        body = page.locator("body").text_content()  # as written: no CSS uppercase
        where = urlsplit(page.url).path
        if lang != "es":
            self.missing.append(f'{where}: html lang="{lang}"')
        self.missing += [f"{where}: no {text!r}" for text in texts if text not in body]
        self.audit.check(page, f"{where} (es)")


def test_the_journeys_in_spanish(live_server, new_context):
    pages = SpanishPages()

    def spanish_page(user: str | None = None) -> Page:
        context = new_context(user)
        context.add_cookies([{"name": "lang", "value": "es", "url": live_server}])
        return context.new_page()

    page = spanish_page()
    page.goto(live_server + "/login")
    pages.check(page, "Iniciar sesión")

    page = spanish_page(PARTICIPANT)
    page.goto(live_server + "/me/")
    pages.check(page, "Mi curso", "Cerrar sesión")
    page.goto(live_server + "/me/reflections")
    page.locator("#due a[href^='/me/reflections/']").first.click()
    pages.check(page, "Su respuesta")
    expect(page.get_by_role("button", name="Guardar borrador")).to_be_visible()
    expect(page.get_by_role("button", name="Enviar para revisión")).to_be_visible()

    page = spanish_page(FACILITATOR)
    page.goto(live_server + "/facilitator/")
    pages.check(page, "Grupos")
    page.goto(live_server + "/facilitator/reviews")
    pages.check(page, "Reflexiones por revisar")

    page = spanish_page(CLERK)
    page.goto(live_server + "/court/")
    pages.check(page, "Casos")
    page.goto(live_server + f"/court/?q={DONE_CASE}")
    page.get_by_role("link", name=DONE_CASE).click()
    code = page.locator("main li code").first.inner_text().strip()

    page = spanish_page()
    page.goto(live_server + "/verify")
    pages.check(page, "Verificar un certificado")
    page.locator("#code").fill(code)
    page.locator("main button[type=submit]").click()
    expect(page.locator(".verdict")).to_be_visible()
    pages.check(page, "Válido", "Este certificado es válido")
    assert not pages.missing, "not in Spanish yet:\n" + "\n".join(pages.missing)
    pages.audit.assert_clean()
