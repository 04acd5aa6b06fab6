"""The program's letterhead: one agency record the director keeps, and its logo."""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import xml.etree.ElementTree as ET

from defusedxml import ElementTree as safe_xml
from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..models import Provider, User, utcnow
from ..names import clean_name
from . import ServiceError, audit

LOGO_MAX_BYTES = 256 * 1024
LOGO_MAX_PIXELS = 4000  # per side: a letterhead logo, not a poster
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

FIELDS = (
    "legal_name",
    "address",
    "phone",
    "email",
    "license_number",
    "director_name",
    "director_title",
)

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
# Drawing elements only, as in DOMPurify's and svg-sanitizer's SVG profiles: no <script>, no
# <foreignObject>, no <image>, <use> of another file, <a>, animation or <style> (CSS can fetch).
SVG_ELEMENTS = frozenset(
    """svg g defs title desc path rect circle ellipse line polyline polygon text tspan
    linearGradient radialGradient stop clipPath mask pattern symbol use""".split()
)
SVG_ATTRIBUTES = frozenset(
    """id class width height viewBox preserveAspectRatio x y x1 y1 x2 y2 cx cy r rx ry d
    points transform fill fill-opacity fill-rule stroke stroke-width stroke-opacity
    stroke-linecap stroke-linejoin stroke-miterlimit stroke-dasharray stroke-dashoffset
    opacity font-family font-size font-weight font-style text-anchor dominant-baseline
    letter-spacing offset stop-color stop-opacity gradientUnits gradientTransform fx fy
    spreadMethod clip-path clip-rule mask patternUnits patternContentUnits
    patternTransform href version""".split()
)
# An attribute may point only inside the file: "#id" or "url(#id)".
_URL = re.compile(r"url\s*\(", re.IGNORECASE)
_LOCAL_URL = re.compile(r"^url\(\s*#[\w.-]+\s*\)$")


def current() -> Provider | None:
    return db.session.scalar(select(Provider).order_by(Provider.id).limit(1))


def letterhead(program_title: str) -> dict:
    """What a court document says about its sender: the provider's record, or, until the
    director fills it in, the program's name alone so that documents still render."""
    provider = current()
    if provider is None:
        return {"name": program_title, "address_lines": [], "logo_uri": None}
    logo_uri = None
    if provider.logo:
        encoded = base64.b64encode(provider.logo).decode("ascii")
        logo_uri = f"data:{provider.logo_type};base64,{encoded}"
    return {
        "name": provider.legal_name,
        "address_lines": provider.address_lines,
        "phone": provider.phone,
        "email": provider.email,
        "license_number": provider.license_number,
        "director_name": provider.director_name,
        "director_title": provider.director_title,
        "logo_uri": logo_uri,
    }


def save(
    *,
    actor: User,
    logo: bytes | None = None,
    remove_logo: bool = False,
    **values: str,
) -> Provider:
    """Create or change the agency record; `logo` (PNG or SVG bytes) replaces the logo.

    Documents already issued keep the letterhead they were issued with: stored PDFs never change.
    """
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown provider fields: {sorted(unknown)}")
    cleaned = {key: (values.get(key) or "").strip() for key in FIELDS}
    for key in ("legal_name", "director_name", "director_title"):
        cleaned[key] = clean_name(cleaned[key])
    cleaned["address"] = "\n".join(
        line.strip() for line in cleaned["address"].splitlines() if line.strip()
    )
    if not cleaned["legal_name"]:
        raise ServiceError(_("Give the program's legal name."))
    provider = current()
    created = provider is None
    if created:
        provider = Provider(legal_name=cleaned["legal_name"], logo_type="")
        db.session.add(provider)
    changes = {
        key: [getattr(provider, key) or "", value]
        for key, value in cleaned.items()
        if created or (getattr(provider, key) or "") != value
    }
    for key, value in cleaned.items():
        setattr(provider, key, value)
    if logo is not None:
        provider.logo, provider.logo_type = clean_logo(logo)
        changes["logo_sha256"] = hashlib.sha256(provider.logo).hexdigest()
    elif remove_logo and provider.logo:
        provider.logo, provider.logo_type = None, ""
        changes["logo_sha256"] = None
    if not changes:
        return provider
    provider.updated_at = utcnow()
    db.session.flush()
    # Field names and the logo's hash only: the values are in the record.
    audit.record(
        "provider.create" if created else "provider.update",
        actor,
        provider,
        fields=sorted(changes),
        **({"logo_sha256": changes["logo_sha256"]} if "logo_sha256" in changes else {}),
    )
    return provider


def clean_logo(data: bytes) -> tuple[bytes, str]:
    """The logo as it may be stored: a PNG checked by its header, or an SVG rebuilt from an
    allow-list. Anything else is refused with a message for the director."""
    if len(data) > LOGO_MAX_BYTES:
        raise ServiceError(
            _("The logo is too large: upload at most %(kb)d KB.", kb=LOGO_MAX_BYTES // 1024)
        )
    if data.startswith(PNG_SIGNATURE):
        return _check_png(data), "image/png"
    return _sanitise_svg(data), "image/svg+xml"


def _check_png(data: bytes) -> bytes:
    # The first chunk of a PNG is IHDR: width and height, 4 bytes each, big-endian.
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise ServiceError(_("The logo is not a valid PNG image."))
    width, height = struct.unpack(">II", data[16:24])
    if not (0 < width <= LOGO_MAX_PIXELS and 0 < height <= LOGO_MAX_PIXELS):
        raise ServiceError(
            _("The logo is too large: at most %(px)d pixels a side.", px=LOGO_MAX_PIXELS)
        )
    return data


def _sanitise_svg(data: bytes) -> bytes:
    not_svg = ServiceError(_("Upload the logo as a PNG or SVG image."))
    # No DTD at all: entities are how XML reaches other files and how it explodes in memory.
    # defusedxml refuses them wherever they are (DTDForbidden and kin are ValueErrors).
    try:
        root = safe_xml.fromstring(data, forbid_dtd=True)
    except (ET.ParseError, ValueError):
        raise not_svg from None
    if root.tag != f"{{{SVG_NS}}}svg":
        raise not_svg
    clean = _clean_element(root)
    ET.register_namespace("", SVG_NS)
    return ET.tostring(clean, encoding="utf-8", xml_declaration=False)


def _clean_element(element: ET.Element) -> ET.Element:
    """A copy keeping only allowed SVG elements and attributes; others are dropped whole."""
    local = element.tag.removeprefix(f"{{{SVG_NS}}}")
    copy = ET.Element(element.tag)
    for name, value in element.attrib.items():
        attr = name.removeprefix(f"{{{XLINK_NS}}}")
        if attr not in SVG_ATTRIBUTES or (name.startswith("{") and attr != "href"):
            continue
        if attr == "href" and not re.fullmatch(r"#[\w.-]+", value.strip()):
            continue  # <use> and gradients may point within the file, never outside it
        if _URL.search(value) and not _LOCAL_URL.match(value.strip()):
            continue
        copy.set("href" if attr == "href" else name, value)
    if local in ("text", "tspan", "title", "desc"):
        copy.text = element.text
    for child in element:
        if child.tag.removeprefix(f"{{{SVG_NS}}}") in SVG_ELEMENTS and child.tag.startswith(
            f"{{{SVG_NS}}}"
        ):
            kept = _clean_element(child)
            kept.tail = child.tail if local in ("text", "tspan") else None
            copy.append(kept)
    return copy


def document_parties(enrollment, program_title: str) -> dict:
    """The variables every court document template reads through pdf/_letterhead.html:
    who sends it, who it is about beyond his name, and to whom it goes with copies."""
    from ..i18n import format_date
    from ..models import ReferralType

    court = enrollment.court.name
    if enrollment.court_department:
        court = f"{court}, {enrollment.court_department}"
    prosecutor = enrollment.prosecutor
    copies = []
    if enrollment.referral_type is ReferralType.PRE_FILING and prosecutor:
        # Pre-filing diversion: no case is before a court yet; the referring office is the reader.
        to = prosecutor
    else:
        to = court
        if prosecutor:
            copies.append(_("Prosecutor: %(name)s", name=prosecutor))
    if enrollment.defense_attorney:
        copies.append(_("Defense attorney: %(name)s", name=enrollment.defense_attorney))
    if enrollment.probation_officer:
        copies.append(_("Probation officer: %(name)s", name=enrollment.probation_officer))
    return {
        "sender": letterhead(program_title),
        "identifiers": {
            "date_of_birth": format_date(enrollment.date_of_birth)
            if enrollment.date_of_birth
            else "",
            "person_number": enrollment.court_person_number,
        },
        "addressees": {"to": to, "copies": copies},
    }
