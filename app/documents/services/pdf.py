"""HTML -> PDF/A-3b with the document's data attached as JSON and a QR code to its
verification page; signed (PAdES) when the site's key is configured."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import segno
from flask import render_template
from markupsafe import Markup
from weasyprint import CSS, HTML, Attachment
from weasyprint.text.fonts import FontConfiguration

from app.common.canonical import canonical_json
from app.documents.services.common import show_time
from app.documents.services.signing import sign_if_configured
from app.documents.services.trail import change_lines

#: The name of the embedded JSON file in every PDF (AFRelationship /Data).
ATTACHMENT_NAME = "cellbatch-data.json"
PDF_VARIANT = "pdf/a-3b"
#: The print styles of every rendered document (and of the qualification report).
PRINT_CSS = Path(__file__).resolve().parents[1] / "templates" / "documents" / "print.css"
_fonts: FontConfiguration | None = None
_print_css: CSS | None = None


def _font_config() -> FontConfiguration:
    # Fonts found by fontconfig, shared between renderings: no GMP data, only font files.
    global _fonts
    if _fonts is None:
        _fonts = FontConfiguration()
    return _fonts


def _stylesheets() -> list[CSS]:
    """print.css, parsed once per process. Inside each page's <style> it was parsed, and each of
    its selectors compiled, at every rendering (issue #10). WeasyPrint cascades it as a user
    stylesheet: a rule in a template's own <style> now wins over print.css whatever the two
    selectors' specificity (the include let the more specific one win). No template's rule
    depended on that: every page of every document renders pixel-identical to the include's."""
    global _print_css
    if _print_css is None:
        _print_css = CSS(filename=str(PRINT_CSS), font_config=_font_config())
    return [_print_css]


def qr_svg(url: str) -> Markup:
    """The verification URL as an inline SVG QR code (vectors, medium error correction)."""
    return Markup(segno.make(url, error="m").svg_inline(scale=2, border=2, omitsize=True))  # noqa: S704 - segno output


def css_string(text: str) -> Markup:
    """A value safe inside a double-quoted CSS string in <style> (page headers); not HTML-escaped,
    since entities are not decoded there, but "<" is escaped so nothing can close the element."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("<", "\\3c ")
    return Markup(escaped)  # noqa: S704 - escaped for CSS above


def html_for(template: str, data: dict[str, Any]) -> str:
    return render_template(template, d=data, when=show_time, qr=qr_svg(data["document"]["verify_url"]),
                           css_string=css_string, changes=change_lines)  # fmt: skip


def pdfa(html: str, data: dict[str, Any], description: str) -> bytes:
    """The PDF/A-3b file of a page, with `data` attached as JSON (AFRelationship /Data)."""
    attachment = Attachment(string=canonical_json(data).encode("utf-8"), name=ATTACHMENT_NAME,
                            description=description, relationship="Data")  # fmt: skip
    with warnings.catch_warnings():
        # WeasyPrint 70 opens its sRGB ICC profile without closing it (ResourceWarning when the
        # file object is freed, inside this call): harmless, and not ours to fix here.
        warnings.simplefilter("ignore", ResourceWarning)
        return HTML(string=html).write_pdf(pdf_variant=PDF_VARIANT, attachments=[attachment],
                                           font_config=_font_config(), stylesheets=_stylesheets())  # fmt: skip


def render_pdf(template: str, data: dict[str, Any]) -> tuple[bytes, bool]:
    """The PDF/A-3b file of one document and whether it carries a PAdES signature."""
    title = data["document"]["title"]
    pdf = pdfa(html_for(template, data), data, f"{title}: the data printed in this file (JSON)")
    return sign_if_configured(pdf, reason=f"{title} {data['lot']['lot_number']}")
