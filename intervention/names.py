"""Names as they are stored: without the invisible characters that reorder text around them."""

from __future__ import annotations

# Embeddings and overrides (U+202A-U+202E), isolates (U+2066-U+2069), the left-to-right and
# right-to-left marks (U+200E, U+200F) and the Arabic letter mark (U+061C). One of them in a
# name makes a roster, a case page or a court document show the name's letters in another
# order, or drags a neighbouring case number along ("Trojan Source", CVE-2021-42574). A name
# in a right-to-left script shows correctly without them (the Unicode bidirectional algorithm
# orders each letter by its own direction), so removing them loses nothing a name needs.
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
_REMOVE = dict.fromkeys(map(ord, BIDI_CONTROLS))


def without_bidi_controls(value):
    """The text without bidirectional control characters (anything else passes as it is)."""
    return value.translate(_REMOVE) if isinstance(value, str) else value


def clean_name(value):
    """A name as typed, without bidirectional controls and the spaces around it. Also a
    WTForms filter for every field holding a person's, a court's or a cohort's name."""
    value = without_bidi_controls(value)
    return value.strip() if isinstance(value, str) else value
