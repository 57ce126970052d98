"""The contract is documented: every extract and column in docs/data-contract.md, as the code says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from carepulse import schema
from carepulse.contract import EXTRACTS, LOAD_ORDER, PHI_COLUMNS

DOC = Path(__file__).parent.parent / "docs" / "data-contract.md"


def documented_columns(extract: str) -> dict[str, dict[str, str]]:
    """The rows of the extract's column table in the doc, by column name."""
    text = DOC.read_text()
    section = re.search(rf"^### `{extract}`\n(.*?)(?=^### |\Z)", text, re.S | re.M)
    assert section, f"docs/data-contract.md has no section for extract {extract!r}"
    rows = {}
    for line in section.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0].startswith("`"):
            name, dtype, nullable, allowed, ref, phi, _notes = cells
            rows[name.strip("`")] = {
                "dtype": dtype,
                "nullable": nullable,
                "allowed": allowed,
                "ref": ref,
                "phi": phi,
            }
    return rows


@pytest.mark.parametrize("name", list(EXTRACTS))
def test_every_contract_column_is_documented_as_the_code_says(name):
    extract = EXTRACTS[name]
    doc = documented_columns(name)
    assert list(doc) == extract.column_names, "column list (and order) differs from pipelines/contract.py"
    for col in extract.columns:
        row = doc[col.name]
        assert row["dtype"] == col.dtype, col.name
        assert row["nullable"] == ("yes" if col.nullable else "no"), col.name
        assert set(re.findall(r"`([^`]+)`", row["allowed"])) == set(col.allowed or ()), col.name
        expected_ref = f"`{col.references[0]}.{col.references[1]}`" if col.references else ""
        assert row["ref"] == expected_ref, col.name
        assert ("PHI" in row["phi"]) == col.phi, col.name


def test_doc_names_key_and_file_of_every_extract():
    text = DOC.read_text()
    for name, extract in EXTRACTS.items():
        assert f"Key: `{extract.key}`" in text.split(f"### `{name}`")[1].split("###")[0]
        assert f"`{name}.csv`" in text


def test_contract_is_consistent():
    assert sorted(LOAD_ORDER) == sorted(EXTRACTS)
    for name, extract in EXTRACTS.items():
        key = extract.column(extract.key)
        assert not key.nullable, name
        for col, (ref_extract, ref_col) in extract.foreign_keys.items():
            assert ref_col == EXTRACTS[ref_extract].key, f"{name}.{col} must reference a key"
        assert (
            list(schema.EXTRACT_TABLES[name].columns.keys())[: len(extract.columns)] == extract.column_names
        )
    assert PHI_COLUMNS["patients"] == [
        "mrn",
        "first_name",
        "last_name",
        "birth_date",
        "postal_code",
        "phone",
        "email",
    ]
    assert PHI_COLUMNS["surveys"] == ["comment"]
