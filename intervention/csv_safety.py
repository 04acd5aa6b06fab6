"""CSV that spreadsheets open safely: every export the program writes (rosters, a case's
record, the court's export, the audit log) goes through here."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection).
# The full-width forms (U+FF1D, U+FF0B, U+FF0D, U+FF20) count too: a spreadsheet that folds
# character width, as Excel can in East Asian locales, reads them as = + - @.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# The byte order mark tells spreadsheets the file is UTF-8.
BOM = "\ufeff"


def safe_cell(value) -> str:
    """Text a spreadsheet shows as text: a leading formula character gets a quote before it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def unquote(text: str) -> str:
    """Undo safe_cell, so an exported cell comes back unchanged when it is imported."""
    if text.startswith("'") and text[1:].startswith(FORMULA_START):
        return text[1:]
    return text


def write(rows: Iterable[Iterable]) -> str:
    """The rows as CSV text with a BOM, every cell made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return BOM + buffer.getvalue()
