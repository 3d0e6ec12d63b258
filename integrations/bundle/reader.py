"""Reading an agency bundle (a folder, or a .zip of one) into rows of typed values."""

import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .columns import FILES, CellError, FileSpec

MAX_FILE_BYTES = 200 * 1024 * 1024


@dataclass
class Row:
    file: str
    line: int
    values: dict  # column name -> parsed value (None for an empty cell)


@dataclass
class Problems:
    """Every problem found, as DATA_FORMAT.md words them: `file:line: column: message`,
    listed in the order of the bundle's files, then by line."""

    found: list[tuple[str, int, str, str]] = field(default_factory=list)
    # Keys of rows (and whole files) that could not be read: references to them are not
    # reported again as missing.
    unreadable_keys: dict[str, set[str]] = field(default_factory=dict)
    unreadable_files: set[str] = field(default_factory=set)

    def add(self, file: str, line: int, column: str, message: str) -> None:
        self.found.append((file, line, column, message))

    @property
    def lines(self) -> list[str]:
        order = {name: index for index, name in enumerate(FILES)}
        ordered = sorted(self.found, key=lambda p: (order.get(p[0], -1), p[0], p[1]))
        return [f"{file}:{line}: {column}: {message}" for file, line, column, message in ordered]

    def __bool__(self) -> bool:
        return bool(self.found)


def _folder_files(path: Path) -> dict[str, bytes]:
    return {child.name: child.read_bytes() for child in sorted(path.iterdir()) if child.is_file()}


def _zip_files(data: bytes, problems: Problems, label: str) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        problems.add(label, 0, "(file)", "not a readable .zip file")
        return {}
    entries = [info for info in archive.infolist() if not info.is_dir()]
    entries = [info for info in entries if not PurePosixPath(info.filename).name.startswith(".")]
    entries = [info for info in entries if "__MACOSX" not in PurePosixPath(info.filename).parts]
    # A zip of a folder keeps the folder's name as a prefix: accept one common top folder.
    parents = {PurePosixPath(info.filename).parent for info in entries}
    if len(parents) > 1:
        problems.add(label, 0, "(file)", "the bundle's CSV files must all be in one folder")
        return {}
    files = {}
    for info in entries:
        if info.file_size > MAX_FILE_BYTES:
            problems.add(info.filename, 0, "(file)", "larger than 200 MB")
            continue
        files[PurePosixPath(info.filename).name] = archive.read(info)
    return files


def load_files(source, problems: Problems) -> dict[str, bytes]:
    """The bundle's files by name, from a folder path, a .zip path or an uploaded .zip."""
    if hasattr(source, "read"):
        return _zip_files(source.read(), problems, getattr(source, "name", "upload"))
    path = Path(source)
    if path.is_dir():
        return _folder_files(path)
    if path.is_file() and path.suffix.lower() == ".zip":
        return _zip_files(path.read_bytes(), problems, path.name)
    problems.add(str(path), 0, "(file)", "not a folder or a .zip file")
    return {}


def parse_file(spec: FileSpec, data: bytes, problems: Problems) -> list[Row]:
    """Rows of one CSV file, each cell parsed; problems recorded, bad rows left out."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        problems.add(spec.name, line, "(file)", "not UTF-8 text; save the file as UTF-8")
        problems.unreadable_files.add(spec.name)
        return []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        problems.add(spec.name, 1, "(header)", "the file is empty; it needs a header row")
        return []
    except csv.Error as error:
        problems.add(spec.name, 1, "(header)", f"not valid CSV: {error}")
        return []
    header_ok = True
    for name in header:
        if name not in spec.column_names:
            problems.add(
                spec.name,
                1,
                name or "(blank)",
                f"unknown column; expected: {', '.join(spec.column_names)}",
            )
            header_ok = False
    for column in spec.columns:
        if column.required and column.name not in header:
            problems.add(spec.name, 1, column.name, "required column is missing")
            header_ok = False
    seen = set()
    for name in header:
        if name in seen:
            problems.add(spec.name, 1, name, "column appears twice")
            header_ok = False
        seen.add(name)
    if not header_ok:
        problems.unreadable_files.add(spec.name)
        return []

    rows = []
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.add(spec.name, reader.line_num, "(row)", f"not valid CSV: {error}")
            problems.unreadable_files.add(spec.name)
            break
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # blank lines are not rows
        if len(cells) != len(header):
            problems.add(
                spec.name, line, "(row)", f"has {len(cells)} cells; the header has {len(header)}"
            )
            if "key" in header and len(cells) > header.index("key"):
                key_cell = cells[header.index("key")].strip()
                problems.unreadable_keys.setdefault(spec.name, set()).add(key_cell)
            continue
        row = _parse_row(spec, dict(zip(header, cells, strict=True)), line, problems)
        if row is not None:
            rows.append(row)
    return rows


def _parse_row(spec: FileSpec, cells: dict[str, str], line: int, problems: Problems):
    values, ok = {}, True
    for column in spec.columns:
        raw = cells.get(column.name, "")
        if raw.strip() == "":
            if column.required:
                problems.add(spec.name, line, column.name, "required; the cell is empty")
                ok = False
            values[column.name] = column.default
            continue
        try:
            values[column.name] = column.parse(raw)
        except CellError as error:
            problems.add(spec.name, line, column.name, str(error))
            ok = False
    if not ok and cells.get("key", "").strip():
        problems.unreadable_keys.setdefault(spec.name, set()).add(cells["key"].strip())
    return Row(spec.name, line, values) if ok else None


def read_bundle(source, problems: Problems) -> dict[str, list[Row]]:
    """Every known file of the bundle parsed into rows; unknown .csv names are problems,
    other files (a README beside the CSVs) are ignored."""
    files = load_files(source, problems)
    parsed = {}
    for name, data in files.items():
        if not name.lower().endswith(".csv"):
            continue
        spec = FILES.get(name)
        if spec is None:
            problems.add(
                name, 0, "(file)", f"not a bundle file; expected one of: {', '.join(FILES)}"
            )
            continue
        parsed[name] = parse_file(spec, data, problems)
    if not files and not problems:
        problems.add(str(getattr(source, "name", source)), 0, "(file)", "the bundle is empty")
    return parsed
