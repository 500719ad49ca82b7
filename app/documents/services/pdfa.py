"""What this machine can check of a PDF/A-3b claim (veraPDF is not installable here).

Not a validator: it checks the properties our renderer and signer could get wrong: the XMP
claim, the output intent, embedded fonts, the Info/XMP agreement PDF/A requires, attachments
(AFRelationship, MIME subtype, listed in /AF), no encryption, no JavaScript, printable
annotations and a file identifier. Formal validation (veraPDF) is a step for the site's
validation team: see docs/documents.md.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own files' XMP only, no DTDs
from typing import Any

from pypdf import PdfReader
from pypdf.generic import DictionaryObject

NS = {"pdfaid": "http://www.aiim.org/pdfa/ns/id/", "pdf": "http://ns.adobe.com/pdf/1.3/",
      "xmp": "http://ns.adobe.com/xap/1.0/", "dc": "http://purl.org/dc/elements/1.1/",
      "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#"}  # fmt: skip
_PRINT, _HIDDEN_FLAGS = 4, 1 | 2 | 32


def xmp_fields(reader: PdfReader) -> dict[str, str]:
    """pdfaid:part, pdfaid:conformance, pdf:Producer ... as attributes or elements."""
    metadata = reader.trailer["/Root"].get("/Metadata")
    if metadata is None:
        return {}
    root = ET.fromstring(metadata.get_object().get_data())  # noqa: S314 - see module docstring
    found: dict[str, str] = {}
    for description in root.iter(f"{{{NS['rdf']}}}Description"):
        for prefix, uri in NS.items():
            for key, value in description.attrib.items():
                if key.startswith(f"{{{uri}}}"):
                    found[f"{prefix}:{key.split('}')[1]}"] = value
            for child in description:
                if child.tag.startswith(f"{{{uri}}}"):
                    texts = [t.strip() for t in child.itertext() if t.strip()]
                    found[f"{prefix}:{child.tag.split('}')[1]}"] = texts[0] if texts else ""
    return found


def _fonts(resources: Any, seen: set[int]) -> list[tuple[str, DictionaryObject]]:
    """Every font of a resources dictionary, form XObjects included."""
    if resources is None or id(resources) in seen:
        return []
    seen.add(id(resources))
    resources = resources.get_object()
    found = [(str(name), font.get_object()) for name, font in (resources.get("/Font") or {}).items()]
    for xobject in (resources.get("/XObject") or {}).values():
        xobject = xobject.get_object()
        if xobject.get("/Subtype") == "/Form":
            found += _fonts(xobject.get("/Resources"), seen)
    return found


def _font_problems(reader: PdfReader) -> list[str]:
    problems, seen = [], set()
    for number, page in enumerate(reader.pages, start=1):
        for name, font in _fonts(page.get("/Resources"), seen):
            if font.get("/Subtype") == "/Type3":
                continue
            target = font["/DescendantFonts"][0].get_object() if font.get("/Subtype") == "/Type0" else font
            descriptor = (target.get("/FontDescriptor") or DictionaryObject()).get_object()
            if not any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                problems.append(f"page {number}: font {name} ({font.get('/BaseFont')}) is not embedded")
    return problems


def _attachment_problems(reader: PdfReader) -> list[str]:
    root = reader.trailer["/Root"]
    names = (root.get("/Names") or DictionaryObject()).get("/EmbeddedFiles")
    if names is None:
        return []
    listed = {ref.idnum for ref in root.get("/AF", []) if hasattr(ref, "idnum")}
    pairs = names.get_object().get("/Names", [])
    problems = []
    for name, ref in zip(pairs[::2], pairs[1::2], strict=True):
        spec = ref.get_object()
        if "/AFRelationship" not in spec:
            problems.append(f"attachment {name}: no /AFRelationship")
        if "/Subtype" not in spec["/EF"]["/F"].get_object():
            problems.append(f"attachment {name}: no MIME /Subtype")
        if getattr(ref, "idnum", None) not in listed:
            problems.append(f"attachment {name}: not listed in the catalog's /AF")
    return problems


def _info_problems(reader: PdfReader, xmp: dict[str, str]) -> list[str]:
    info = reader.trailer.get("/Info")
    info = info.get_object() if info is not None else {}
    problems = []
    for key, field in (("/Producer", "pdf:Producer"), ("/Title", "dc:title"), ("/Creator", "xmp:CreatorTool")):
        if key in info and str(info[key]) != xmp.get(field):
            problems.append(f"Info {key} {str(info[key])!r} differs from XMP {field} {xmp.get(field)!r}")
    for key, field in (("/CreationDate", "xmp:CreateDate"), ("/ModDate", "xmp:ModifyDate")):
        if key in info and field not in xmp:
            problems.append(f"Info {key} has no XMP {field}")
    return problems


def _annotation_problems(reader: PdfReader) -> list[str]:
    problems = []
    for number, page in enumerate(reader.pages, start=1):
        for annot in page.get("/Annots") or []:
            annot = annot.get_object()
            flags = int(annot.get("/F", 0))
            if annot.get("/Subtype") != "/Popup" and (not flags & _PRINT or flags & _HIDDEN_FLAGS):
                problems.append(f"page {number}: {annot.get('/Subtype')} annotation is not printable (F={flags})")
    return problems


def pdfa_problems(content: bytes) -> list[str]:
    """Everything found wrong with the file's PDF/A-3b claim (empty: nothing found)."""
    if not content.startswith(b"%PDF-1."):
        return ["not a PDF 1.x file"]
    reader = PdfReader(io.BytesIO(content))
    trailer, root, xmp = reader.trailer, reader.trailer["/Root"], xmp_fields(reader)
    problems = [] if (xmp.get("pdfaid:part"), xmp.get("pdfaid:conformance")) == ("3", "B") else [
        f"XMP claims part {xmp.get('pdfaid:part')!r} conformance {xmp.get('pdfaid:conformance')!r}, not 3 B"]
    intents = [i.get_object() for i in root.get("/OutputIntents", [])]
    if not any(i.get("/S") == "/GTS_PDFA1" and "/DestOutputProfile" in i for i in intents):
        problems.append("no GTS_PDFA1 output intent with an ICC profile")
    problems += [m for bad, m in (("/Encrypt" in trailer, "the file is encrypted"),
                                  ("/ID" not in trailer, "the trailer has no file /ID"),
                                  ("/JavaScript" in (root.get("/Names") or {}), "the file contains JavaScript"))
                 if bad]  # fmt: skip
    return (problems + _font_problems(reader) + _attachment_problems(reader) + _info_problems(reader, xmp)
            + _annotation_problems(reader))  # fmt: skip
