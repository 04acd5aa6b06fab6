"""Court documents as archival PDF/A-3a, rendered from Jinja templates with WeasyPrint."""

from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from flask import current_app
from flask_babel import gettext as _
from weasyprint import HTML, Attachment, URLFetcher

from . import signing
from .i18n import current_language

PDF_VARIANT = "pdf/a-3a"  # archival for court records, and tagged for screen readers


class StaticOnlyURLFetcher(URLFetcher):
    """Serves `data:` URLs and files inside one folder; refuses everything else.

    A court document must not depend on, or leak to, anything outside the app: no network
    and no other file on the server, whatever a template or its data happens to contain.
    """

    def __init__(self, root: str | Path, **kwargs):
        super().__init__(allowed_protocols={"file", "data"}, allow_redirects=False, **kwargs)
        self.root = Path(root).resolve()

    def fetch(self, url, headers=None):
        scheme = url.split(":", 1)[0].lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme != "file":
            raise ValueError(f"PDF rendering refuses non-local URL: {url}")
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"PDF rendering refuses remote file URL: {url}")
        # resolve() follows symlinks and "..", so the check is on the file actually read.
        path = Path(url2pathname(parts.path)).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise ValueError(f"PDF rendering serves only files in {self.root}: {url}")
        return super().fetch(path.as_uri(), headers)


def render_pdf(
    template: str,
    *,
    title: str,
    author: str,
    signed_by: str | None = None,
    attachments: list[dict] | None = None,
    **context,
) -> bytes:
    """Render `template` to PDF/A-3a bytes, signed (PAdES) with the program's key in the name
    of `signed_by` (by default the author); needs an app context, not a request.

    `title` and `author` reach the template as variables of the same names; the base
    template puts them in <title> and <meta name=author>, where WeasyPrint reads the PDF
    metadata from. The document is in the current language (callers force the court's with
    flask_babel.force_locale), which <html lang> declares and WeasyPrint writes into the
    PDF as /Lang for screen readers. Relative URLs resolve against the static folder.
    `attachments` (dicts with name, description and data bytes) are embedded as
    PDF/A-3 associated files with AFRelationship /Data, before signing, so the signature
    covers them.
    """
    # Flask's environment (filters, globals) but not its context processors: a court document
    # depends only on what the caller passes, never on who is logged in or on the request.
    html = current_app.jinja_env.get_template(template).render(
        title=title,
        author=author,
        lang=current_language(),
        page_counter=_page_counter(),
        # The footer names the sender on every page, as a letterhead's continuation sheets do.
        footer_sender=_css_string(context["sender"]["name"]) if "sender" in context else "",
        **context,
    )
    static = Path(current_app.static_folder).resolve()
    document = HTML(
        string=html,
        base_url=static.as_uri() + "/",
        url_fetcher=StaticOnlyURLFetcher(static),
    )
    embedded = [
        Attachment(
            string=item["data"],
            base_url=static.as_uri() + "/",
            name=item["name"],
            description=item["description"],
            relationship="Data",
        )
        for item in attachments or ()
    ]
    pdf = document.write_pdf(pdf_variant=PDF_VARIANT, attachments=embedded)
    return signing.sign_pdf(pdf, reason=title, name=signed_by or author)


def _page_counter() -> str:
    """The footer's "Page 1 of 2" in the current language, as a CSS `content` value: the
    translated sentence, quoted, with WeasyPrint's page counters where its numbers go."""
    text = _("Page %(page)s of %(pages)s", page="\0", pages="\1")
    quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return quoted.replace("\0", '" counter(page) "').replace("\1", '" counter(pages) "')


def _css_string(text: str) -> str:
    """`text` as a quoted CSS string; control characters and "<" escaped, so that a name
    can neither end the string nor the <style> element it sits in."""
    out = []
    for char in text:
        if char in '\\"<>' or ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\{ord(char):x} ")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
