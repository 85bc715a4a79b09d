"""Case folders in the workspace, as the web app sees them: ordinary case folders with a case.toml.

The facts go through the same validator as a hand-written case.toml (``model.case.parse_case``) before
the file is written (atomically), so ``evidence-kit build`` and the watcher work on these folders too.
"""
from __future__ import annotations

import json
import logging
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ... import api
from ...errors import CaseError, EvidenceKitError
from ...fsutil import atomic_write_text
from ...model.case import (CASE_FILE, PACKAGE_DIR, PHOTO_SUFFIXES, RECEIPT_SUFFIXES, SUBFOLDERS, TRACKING_SUFFIXES,
                           VIDEO_SUFFIXES, Case, discover_media, parse_case)
from ...model.reasons import REASON_RULES
from ...model.tomlfile import load_toml
from . import i18n
from .wording import problem_texts

_log = logging.getLogger("evidence_kit.web")

APP_DIR = ".evidence-kit-web"  # the app's own cache (thumbnails, zips being written): hidden, so never a case

def plain_folder_name(name: str) -> bool:
    """A name that is one folder of the workspace: not hidden, no separators, no control characters.

    New cases get ASCII names; a case folder made by hand may have any such name (``Чайник 2``).
    """
    return (0 < len(name.encode("utf-8", "surrogateescape")) <= 255 and not name.startswith(".")
            and "/" not in name and "\\" not in name and not any(unicodedata.category(c)[0] == "C" for c in name))


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_NAME_BYTES = 150  # well under every file system's 255, with room for "-2" and a temporary prefix

# Which files a kind of evidence accepts. "auto" sorts by suffix; chat, tracking and receipts also take
# screenshots, which a suffix alone cannot tell from photos (the page asks).
KIND_SUFFIXES = {
    "photos": PHOTO_SUFFIXES,
    "videos": VIDEO_SUFFIXES,
    "chat": PHOTO_SUFFIXES | RECEIPT_SUFFIXES,
    "tracking": TRACKING_SUFFIXES | PHOTO_SUFFIXES,
    "receipts": RECEIPT_SUFFIXES | PHOTO_SUFFIXES,
}
KINDS = ("auto", *KIND_SUFFIXES)


class NotFound(Exception):
    """No such case (or file) in the workspace."""


@dataclass
class Invalid(Exception):
    """The facts do not validate: the messages case.toml would get."""

    problems: list[str]


def case_root(workspace: Path, case_id: str) -> Path:
    """The folder of ``case_id``, which must be a plain name of a case folder directly in the workspace."""
    if not plain_folder_name(case_id):
        raise NotFound(case_id)
    root = workspace / case_id
    if not (root / CASE_FILE).is_file() or root.resolve().parent != workspace.resolve():
        raise NotFound(case_id)
    return root


def list_cases(workspace: Path) -> list[dict[str, Any]]:
    """Every case folder in the workspace, newest first, with what the start page shows.

    One bad case never takes the list down: a folder that cannot be read, or a case whose summary fails in
    any way, is listed with its problem (the start page marks it) and the rest are listed as ever.
    """
    rows = []
    for folder in workspace.iterdir() if workspace.is_dir() else []:
        if not plain_folder_name(folder.name):
            continue
        try:
            if not (folder.is_dir() and (folder / CASE_FILE).is_file() and
                    folder.resolve().parent == workspace.resolve()):  # a link out of the workspace is not a case
                continue
        except OSError:  # a folder we may not look into
            rows.append(_row(folder, "this folder cannot be read (no permission?)"))
            continue
        try:
            rows.append(case_summary(folder))
        except Exception as exc:  # whatever it is, it is this case's problem, not the list's
            _log.warning("case %s cannot be summarised: %s: %s", folder.name, type(exc).__name__, exc)
            rows.append(_row(folder, "this case cannot be read: open it to see why"))
    return sorted(rows, key=lambda r: r["modified"], reverse=True)


def _row(root: Path, *problems: str) -> dict[str, Any]:
    """A case's row before its facts are known: named by its folder."""
    try:
        modified = (root / CASE_FILE).stat().st_mtime
    except OSError:
        modified = 0.0
    return {"id": root.name, "modified": modified, "problems": list(problems), "title": root.name, "order": "",
            "reason": "", "deadline": None, "built": None}


def case_summary(root: Path) -> dict[str, Any]:
    row = _row(root)
    try:
        case = api.load_case(root)
    except EvidenceKitError as exc:
        row["problems"] = getattr(exc, "problems", None) or [getattr(exc, "message", str(exc))]
        return row
    from ...dispute.deadlines import compute_deadlines

    report = compute_deadlines(case, date.today())
    last_open = report.get("last_open")
    row.update(title=case.title, order=case.order.number, reason=case.dispute.reason,
               deadline={"status": report.status, "advice": report.advice,
                         "last_open": last_open.day.isoformat() if last_open and last_open.day else None,
                         "deadlines": [d.to_dict() for d in report.deadlines]})
    manifest = root / PACKAGE_DIR / "manifest.json"
    if manifest.is_file():
        row["built"] = manifest.stat().st_mtime
    return row


def package_readable(root: Path) -> bool:
    """False when the case has a package whose manifest.json is not one at all (emptied, cut short, garbage):
    then nothing of the package can be shown or checked until it is built again. Whether what it lists is
    true is for ``api.verify`` to say."""
    manifest = root / PACKAGE_DIR / "manifest.json"
    if not manifest.exists():
        return True  # no package yet
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get("profile"), dict) and isinstance(data.get("outputs"), list)


# --- facts: JSON <-> case.toml ------------------------------------------------------------------------------

def _clean(value: Any) -> Any:
    """A form's JSON as case.toml holds it: empty fields left out, dates as dates, amounts as decimals.

    Only the representation changes; whatever is still wrong is left for the validator to name.
    """
    if isinstance(value, dict):
        cleaned = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, "", {}, [])}
    if isinstance(value, list):
        return [v for v in (_clean(v) for v in value) if v not in (None, "", {}, [])]
    if isinstance(value, str):
        text = value.strip()
        if _DATE.match(text):
            try:
                return date.fromisoformat(text)
            except ValueError:
                return text
        return text if text else None
    return value


# Money, kept as decimals in case.toml and as text in JSON ("34.90"); seller_offered may also be "replacement".
_AMOUNTS = (("order", "price"), ("dispute", "amount"), ("facts", "customs_fee"), ("facts", "seller_offered"))


def usual_resolution(reason: str) -> str | None:
    """What the form's "The usual one for this reason" asks for: the library's default (refund only when the
    parcel never came, 002), else refund only as well: the buyer keeps the item for a partial refund, and return
    postage is usually the buyer's (004), as templates/case.toml and ``evidence-kit init`` write it too. None for
    an unknown reason (the validator names that)."""
    rule = REASON_RULES.get(reason)
    if rule is None:
        return None
    return rule.default_resolution or "refund_only"


def facts_to_data(facts: Any) -> dict[str, Any]:
    if not isinstance(facts, dict):
        raise Invalid(["the request body must be a JSON object with case.toml's fields"])
    from .i18n import parse_amount

    data = _clean(facts)
    for table, key in _AMOUNTS:
        value = data.get(table, {}).get(key) if isinstance(data.get(table), dict) else None
        if isinstance(value, float) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str):  # typed as the buyer's language writes it ("2 990,00"), or any common way
            parsed = parse_amount(value)
            if parsed is not None:
                data[table][key] = parsed  # otherwise left as typed: the validator names the problem
    dispute = data.get("dispute")
    if isinstance(dispute, dict) and "resolution" not in dispute and isinstance(dispute.get("reason"), str):
        usual = usual_resolution(dispute["reason"])
        if usual:  # written out, so case.toml says what is asked for and the CLI reads the same
            dispute["resolution"] = usual
    price, asked = data.get("order", {}).get("price"), data.get("dispute", {}).get("amount")
    if isinstance(price, Decimal) and isinstance(asked, Decimal) and asked.as_tuple().exponent > price.as_tuple().exponent:
        data["dispute"]["amount"] = asked.quantize(price)  # 2990 asked of 2990.00 is written 2990.00
    for table, key in _AMOUNTS:  # a whole amount typed without decimals stays whole: tomli_w writes Decimal 35 as 35.0
        value = data.get(table, {}).get(key) if isinstance(data.get(table), dict) else None
        if isinstance(value, Decimal) and value.is_finite() and value.as_tuple().exponent >= 0:
            data[table][key] = int(value)
    return data


def to_toml(data: dict[str, Any]) -> str:
    import tomli_w

    return HEADER + tomli_w.dumps(data)


HEADER = "# Written by evidence-kit serve. Edit it here or in the app; every field is documented in the README.\n"


def validate(data: dict[str, Any], root: Path) -> Case:
    """The same checks and messages as ``evidence-kit build`` gives: the validator reads the case.toml text
    that would be written, exactly as the CLI will read it later."""
    try:
        return parse_case(tomllib.loads(to_toml(data)), root, source=str(root / CASE_FILE))
    except CaseError as exc:
        found = getattr(exc, "found", None)  # each problem with its kind: worded in the buyer's language
        if found is None:
            raise Invalid(exc.problems) from None
        raise Invalid(list(problem_texts(found))) from None


def write_facts(root: Path, data: dict[str, Any]) -> None:
    atomic_write_text(root / CASE_FILE, to_toml(data))


def read_facts(root: Path) -> tuple[dict[str, Any], list[str]]:
    """case.toml as JSON-ready data, and its problems (a hand-edited file may be invalid)."""
    try:  # read as the CLI reads it: a plain UTF-8 file of a sane size (BOM accepted), valid TOML
        data = load_toml(root / CASE_FILE, CASE_FILE, parse_float=Decimal)
    except CaseError as exc:
        return {}, [i18n.gettext(i18n.N_("The case file (case.toml) cannot be read: %(why)s"))
                    % {"why": "; ".join(exc.problems)}]
    except OSError:
        return {}, [i18n.gettext(i18n.N_("The case file (case.toml) cannot be read (no permission?)."))]
    try:
        validate(data, root)
        problems: list[str] = []
    except Invalid as exc:
        problems = exc.problems
    return _jsonable(data), problems


def _jsonable(value: Any, where: tuple[str, ...] = ()) -> Any:
    """TOML values as JSON: money stays text as written ("34.90"), other numbers are numbers, dates ISO text."""
    if isinstance(value, dict):
        return {k: _jsonable(v, (*where, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v, where) for v in value]
    if isinstance(value, Decimal):
        return str(value) if where in _AMOUNTS else float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def new_case_id(workspace: Path, data: dict[str, Any]) -> str:
    """A folder name from the title or the order number: ASCII, unique in the workspace."""
    order = data.get("order")
    number = str(order.get("number", "")) if isinstance(order, dict) else ""
    wanted = str(data.get("title") or "") or f"order-{number}"
    ascii_name = unicodedata.normalize("NFKD", wanted).encode("ascii", "ignore").decode()
    # A title in another script has no ASCII left: the order number names the folder then.
    base = re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-").lower()[:60] or f"order-{number}"
    base = re.sub(r"[^A-Za-z0-9]+", "-", base).strip("-")[:60] or "case"
    candidate, n = base, 1
    while (workspace / candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def create_case(workspace: Path, facts: Any) -> str:
    data = facts_to_data(facts)
    workspace.mkdir(parents=True, exist_ok=True)
    while True:
        case_id = new_case_id(workspace, data)
        root = workspace / case_id
        try:
            root.mkdir()  # fails if another request took the name in the meantime: then the next name
            break
        except FileExistsError:
            continue
    try:
        validate(data, root)  # the validator looks into the folder (media, named files): it must exist
    except Invalid:
        root.rmdir()
        raise
    for folder in SUBFOLDERS.values():
        (root / folder).mkdir(exist_ok=True)
    write_facts(root, data)
    return case_id


def replace_facts(root: Path, facts: Any) -> None:
    data = facts_to_data(facts)
    validate(data, root)
    write_facts(root, data)


def field_of(problem: str) -> str:
    """The form field a validator message is about: ``order.price: ...`` -> ``order.price``."""
    # a problem worded in the buyer's language knows its path; the library's English starts with it
    where = getattr(problem, "path", None)
    where = (problem.split(":", 1)[0] if where is None else where).strip().strip("[]")
    return re.sub(r"\[\d+\]", lambda m: f".{int(m.group(0)[1:-1]) - 1}", where)


# --- files --------------------------------------------------------------------------------------------------

def safe_name(raw: str) -> str:
    """A file name that stays where it is put: no folders, no control characters, no leading dot, not too long.

    ``../../etc/passwd`` -> ``passwd``; ``C:\\x\\a.jpg`` -> ``a.jpg``; NUL and bidi controls are dropped.
    """
    name = unicodedata.normalize("NFC", raw.replace("\\", "/").split("/")[-1])
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r'[<>:"|?*]', "_", name)
    name = re.sub(r"\s+", " ", name).strip().lstrip(".").rstrip(". ")
    if not name or name in (".", ".."):
        name = "file"
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(suffix) > 16:
        stem, suffix = name, ""
    tail = f".{suffix}" if suffix else ""
    while len((stem + tail).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return (stem.rstrip(" .") or "file") + tail


def kind_for(name: str, wanted: str) -> str | None:
    """The evidence kind (a key of SUBFOLDERS) a file goes to, or None when it is not one the build uses."""
    suffix = Path(name).suffix.lower()
    if wanted != "auto":
        return wanted if suffix in KIND_SUFFIXES.get(wanted, ()) else None
    for kind in ("photos", "videos", "tracking", "receipts"):
        if suffix in KIND_SUFFIXES[kind] and (kind != "tracking" or suffix in TRACKING_SUFFIXES) and (
                kind != "receipts" or suffix in RECEIPT_SUFFIXES):
            return kind
    return None


def inside(root: Path, path: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def media_files(root: Path) -> dict[str, list[dict[str, Any]]]:
    """The case's evidence by kind (as the build will find it), each with its path and size."""
    media = discover_media(root)
    return {kind: [{"path": p.relative_to(root).as_posix(), "name": p.name, "bytes": p.stat().st_size}
                   for p in getattr(media, kind)] for kind in SUBFOLDERS}


def case_file(root: Path, relative: str) -> Path:
    """A file of the case by its relative path; NotFound unless it is an existing file inside the case folder."""
    if "\x00" in relative:  # the file system refuses it (ValueError), and no file has one
        raise NotFound(relative)
    path = root / relative
    if ".." in Path(relative).parts or not inside(root, path) or not path.is_file():
        raise NotFound(relative)
    return path


def forget_file(root: Path, relative: str) -> None:
    """Drop case.toml's hints about a removed file (a hint naming a missing file would stop the build)."""
    try:
        data = load_toml(root / CASE_FILE, CASE_FILE, parse_float=Decimal)
    except (CaseError, OSError):
        return  # a case.toml that cannot be read holds no hint to drop; the page shows its problem
    photos = [p for p in data.get("photos", []) if not (isinstance(p, dict) and p.get("file") == relative)]
    video = data.get("video")
    changed = len(photos) != len(data.get("photos", []))
    if isinstance(video, dict) and video.get("file") == relative:
        del video["file"]
        changed = True
    if changed:
        data["photos"] = photos
        write_facts(root, {k: v for k, v in data.items() if v not in ([], {})})
