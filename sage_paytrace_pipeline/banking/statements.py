"""Read bank statement files (BAI2, OFX/QFX, configured CSV) into one typed frame, or refuse them whole."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from sage_paytrace_pipeline.banking.bai2_format import parse_bai2
from sage_paytrace_pipeline.banking.csv_format import SETTING as CSV_SETTING
from sage_paytrace_pipeline.banking.csv_format import CsvFormat, parse_csv
from sage_paytrace_pipeline.banking.errors import StatementError
from sage_paytrace_pipeline.banking.ofx_format import parse_ofx
from sage_paytrace_pipeline.banking.rows import transactions_frame

StatementFormat = Literal["bai2", "ofx", "csv"]
_SNIFF_BYTES = 4096
_NO_CSV_LAYOUT = (f"if it is the bank's CSV export, describe its columns under {CSV_SETTING} in the config "
                  "(date_column, description_column, amount_column or credit_column and debit_column, account_id "
                  "or account_column; see config/example.yaml); otherwise move the file out of the statement "
                  "folder")


@dataclass(frozen=True, eq=False)
class StatementFile:
    path: Path
    sha256: str  # of the file's bytes: the same content is processed once, whatever its name
    format: StatementFormat
    transactions: pd.DataFrame


@dataclass
class FolderScan:
    loaded: list[StatementFile] = field(default_factory=list)
    errors: list[StatementError] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # content already seen


def detect_format(data: bytes) -> StatementFormat:
    """By content, not by name: banks and people name statement files anything."""
    head = data[:_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"01,"):
        return "bai2"
    if b"OFXHEADER" in head or b"<OFX>" in head:
        return "ofx"
    return "csv"


def read_statement(path: str | Path, *, csv_format: CsvFormat | None = None) -> StatementFile:
    path = Path(path)
    return _parse(path, path.read_bytes(), csv_format)


def read_statement_folder(folder: str | Path, *, seen_hashes: set[str],
                          csv_format: CsvFormat | None = None) -> FolderScan:
    """Every file in `folder` whose content is not in `seen_hashes` (nor read earlier in this scan).

    Hidden files and subfolders are not statements. `seen_hashes` is not changed: the caller records
    the hashes of `loaded` once it has stored them, so a crash in between re-reads rather than loses.
    """
    scan = FolderScan()
    seen = set(seen_hashes)
    for path in sorted(Path(folder).iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            data = path.read_bytes()
        except OSError as error:  # e.g. still being written, or no permission: report it, go on
            scan.errors.append(StatementError(path, 1, f"cannot read the file ({error.strerror})",
                                              "check the file's permissions; the next scan retries it"))
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:
            scan.skipped.append(path)
            continue
        try:
            scan.loaded.append(_parse(path, data, csv_format))
            seen.add(digest)
        except StatementError as error:
            scan.errors.append(error)
    return scan


def _parse(path: Path, data: bytes, csv_format: CsvFormat | None) -> StatementFile:
    kind = detect_format(data)
    if kind == "bai2":
        rows = parse_bai2(path, _text(data))
    elif kind == "ofx":
        rows = parse_ofx(path, data)
    elif csv_format is None:
        raise StatementError(path, 1, "not BAI2 (01 record) or OFX (OFXHEADER), and the config has no bank.csv "
                             "layout for CSV statements", _NO_CSV_LAYOUT)
    else:
        rows = parse_csv(path, data, csv_format)
    return StatementFile(path=path, sha256=hashlib.sha256(data).hexdigest(), format=kind,
                         transactions=transactions_frame(rows))


def _text(data: bytes) -> str:
    """BAI2 is ASCII; a stray Latin-1 byte in a description should not refuse the file."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")
