"""QC release specifications (qc_specs/*.yaml): schema and validation, without a database.

`parse_spec()` reads one specification file and returns a frozen `SpecDef`, or raises
`DefinitionError` listing every problem as "file:line: message", so QA fixes a file in one
pass. Limits stay exact Decimals as written; only results are rounded (see evaluation.py).
The format is described in docs/qc-spec-format.md.

- model.py: the frozen definitions (`SpecDef`, `TestDef`) and how their limits are written;
- fields.py: reading one typed value of a mapping, or reporting it;
- acceptance.py: the type-specific part of a test (accepted texts; bounds, alert, LOQ);
- parse.py: the whole file: header, list of tests, each test, file name.
"""

from .model import SpecDef, TestDef, format_decimal, normalise_text
from .parse import parse_spec

__all__ = ["SpecDef", "TestDef", "format_decimal", "normalise_text", "parse_spec"]
