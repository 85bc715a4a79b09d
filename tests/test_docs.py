"""The README and docs/ against the code: links resolve, every flag shown exists, the exit-code table is ExitCode.

The docs are read as Markdown: fenced code blocks and inline code spans are where commands are shown; links
and headings are read from the prose around them. The command line is the real one (click's CliRunner on
``evidence_kit.cli.cli``, the group the ``evidence-kit`` script runs), asked for each command's ``--help``.
"""
from __future__ import annotations

import re
import shlex
from functools import lru_cache
from pathlib import Path

from click.testing import CliRunner

from evidence_kit.cli import cli
from evidence_kit.errors import ExitCode
from evidence_kit.model.manifest import PROBLEM_KINDS

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 150  # issue 26: what a first reader needs fits a screen or two


def doc_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


# --- reading Markdown ---------------------------------------------------------------------------------------

_FENCE = re.compile(r"^\s{0,3}(```+|~~~+)\s*([\w+-]*)")
_SPAN = re.compile(r"(?<!`)(`+)(?!`)((?:(?!\n[ \t]*\n).)+?)(?<!`)\1(?!`)", re.S)
_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")


def split_markdown(text: str) -> tuple[str, list[tuple[str, list[str]]]]:
    """The prose (fenced blocks blanked, so line numbers stay) and the fenced blocks as (language, lines)."""
    prose, blocks = [], []
    fence: str | None = None
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
            blocks.append((match.group(2).lower(), []))
            prose.append("")
        elif fence is not None:
            if line.strip().startswith(fence[:3]) and line.strip().strip(fence[0]) == "":
                fence = None
            else:
                blocks[-1][1].append(line)
            prose.append("")
        else:
            prose.append(line)
    return "\n".join(prose), blocks


def code_spans(prose: str) -> list[str]:
    return [" ".join(m.group(2).split()) for m in _SPAN.finditer(prose)]


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: markup dropped, lower case, punctuation removed, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    prose, _ = split_markdown(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    found = set()
    for line in prose.split("\n"):
        if (match := _HEADING.match(line)):
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[tuple[int, str]]:
    """(line, target) of every Markdown link in the prose (not inside code)."""
    prose, _ = split_markdown(path.read_text(encoding="utf-8"))
    prose = _SPAN.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), prose)
    return [(prose.count("\n", 0, m.start()) + 1, m.group(1)) for m in _LINK.finditer(prose)]


def broken_links(files: list[Path]) -> list[str]:
    """Every relative link whose file does not exist, or whose #anchor is no heading of that file."""
    problems = []
    for path in files:
        for line, target in links(path):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto: ...: not checked offline
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.relative_to(path.parent.parent) if path.parent != ROOT else path.name}:{line}"
            if not linked.exists():
                problems.append(f"{where}: {target}: no such file")
            elif anchor and (linked.suffix != ".md" or anchor not in anchors(linked)):
                problems.append(f"{where}: {target}: no heading with the anchor #{anchor}")
    return problems


# --- the command line as its --help says it ------------------------------------------------------------------

def _help(*args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--help"], prog_name="evidence-kit")
    assert result.exit_code == 0, result.output
    return result.output


def _section(text: str, title: str) -> list[str]:
    """The lines of a --help section ("Options:", "Commands:") up to the next one."""
    lines = text.split("\n")
    out = []
    for line in lines[lines.index(f"{title}:") + 1:]:
        if line and not line.startswith(" "):
            break
        out.append(line)
    return out


@lru_cache(maxsize=None)
def options_of(command: str | None) -> frozenset[str]:
    """The option names ``evidence-kit [COMMAND] --help`` lists (``-v``, ``--verbose``, ``--out`` ...)."""
    declared = set()
    for line in _section(_help(*([command] if command else [])), "Options"):
        if line.startswith("  -"):  # an option's own line (its wrapped help is indented further)
            declaration = re.split(r"\s{2,}", line.strip())[0]
            declared.update(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", declaration))
    return frozenset(declared)


@lru_cache(maxsize=None)
def commands() -> frozenset[str]:
    return frozenset(line.split()[0] for line in _section(_help(), "Commands") if line.strip())


_SEPARATORS = frozenset({"|", "||", "&&", ";", ">", ">>", "2>", "&"})
_FLAG = re.compile(r"^--?[A-Za-z][\w-]*$")


def _tokens(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=True)
    except ValueError:  # an unbalanced quote in a prose example: words are enough to find flags
        return text.split("#", 1)[0].split()


def _flag(token: str) -> str | None:
    name = token.strip("[](),|").split("=", 1)[0]
    return name if _FLAG.match(name) else None


def command_uses(text: str) -> list[tuple[str | None, list[str]]]:
    """(subcommand, flags) for each ``evidence-kit ...`` in a line of shell or a code span. A subcommand
    that is not one of the CLI's comes back as it is written, for the test to name."""
    uses = []
    tokens = _tokens(text)
    for i, token in enumerate(tokens):
        if token != "evidence-kit" and not token.endswith("/evidence-kit"):
            continue
        command, flags, global_flags = None, [], []
        for word in tokens[i + 1:]:
            if word in _SEPARATORS or word.endswith(";"):
                break
            flag = _flag(word)
            if command is None and flag:
                global_flags.append(flag)
            elif command is None:
                command = word
            elif flag:
                flags.append(flag)
        if global_flags:
            uses.append((None, global_flags))
        if command is not None:
            uses.append((command, flags))
    return uses


def shown_commands() -> list[tuple[str, str | None, list[str]]]:
    """(where, subcommand, flags) for every command shown in the README and docs/."""
    found = []
    for path in doc_files():
        prose, blocks = split_markdown(path.read_text(encoding="utf-8"))
        texts = [line.removeprefix("$ ") for language, lines in blocks if language in ("", "sh", "shell", "bash",
                                                                                       "console") for line in lines]
        for span in code_spans(prose):
            first = span.split()[0] if span.split() else ""
            if first in commands() and any(_flag(w) for w in span.split()[1:]):
                span = f"evidence-kit {span}"  # `build --look-up-tracking`: a command named without the program
            texts.append(span)
        for text in texts:
            found += [(f"{path.name}: {text}", command, flags) for command, flags in command_uses(text)]
    return found


# Flags of other programs that the docs name in code spans of their own (``--nthreads`` of dask worker ...).
OTHER_PROGRAMS_FLAGS = frozenset({"--nthreads", "--resources", "--no-sandbox", "--disable-gpu", "--headless",
                                  "--screenshot"})


def lone_flags() -> list[tuple[str, str]]:
    """(where, flag) for every code span that is a flag alone (`--settle`, `--timeout SECONDS`)."""
    found = []
    for path in doc_files():
        prose, _ = split_markdown(path.read_text(encoding="utf-8"))
        for span in code_spans(prose):
            words = span.split()
            if words and words[0].startswith("--") and len(words) <= 2 and (flag := _flag(words[0])):
                found.append((path.name, flag))
    return found


# --- the tests -----------------------------------------------------------------------------------------------

def test_every_relative_link_resolves() -> None:
    assert broken_links(doc_files()) == []


def test_the_link_check_finds_a_missing_file_and_a_missing_anchor(tmp_path: Path) -> None:
    page = tmp_path / "docs" / "page.md"
    page.parent.mkdir()
    (tmp_path / "README.md").write_text("# Top\n\n## Odd inputs\n", encoding="utf-8")
    page.write_text("# Page\n\n[ok](../README.md#odd-inputs) [ok too](#page) `[code](nowhere.md)`\n\n"
                    "[gone](nowhere.md) [no heading](../README.md#even-inputs) [self](#nothing)\n\n"
                    "```\n[in a block](also-nowhere.md)\n```\n", encoding="utf-8")
    problems = broken_links([page])
    assert len(problems) == 3, problems
    assert "nowhere.md: no such file" in problems[0]
    assert "#even-inputs" in problems[1] and "#nothing" in problems[2]


def test_every_page_in_docs_is_linked_from_the_readme() -> None:
    linked = {(README.parent / target.partition("#")[0]).resolve() for _, target in links(README)}
    assert [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked] == []


def test_every_command_and_flag_shown_exists_in_its_help() -> None:
    shown = shown_commands()
    assert len({command for _, command, _ in shown}) >= len(commands()) - 1  # the docs show (nearly) every one
    wrong = []
    for where, command, flags in shown:
        if command is not None and command not in commands():
            wrong.append(f"{where}: no command {command!r}")
            continue
        wrong += [f"{where}: {flag} is not an option of 'evidence-kit {command or ''}'".replace(" '", "'")
                  for flag in flags if flag not in options_of(command)]
    assert wrong == []


def test_every_flag_named_alone_is_an_option_of_some_command() -> None:
    known = set(options_of(None)).union(*(options_of(c) for c in commands())) | OTHER_PROGRAMS_FLAGS
    assert [f"{where}: {flag}" for where, flag in lone_flags() if flag not in known] == []


def test_the_flag_check_catches_a_flag_that_does_not_exist() -> None:
    uses = command_uses("evidence-kit -v build my-case --out x --no-such-flag  # --in-a-comment")
    assert uses == [(None, ["-v"]), ("build", ["--out", "--no-such-flag"])]
    assert "--no-such-flag" not in options_of("build") and "--out" in options_of("build")
    assert "-v" in options_of(None)


def test_the_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").split("\n")
    assert len(lines) < README_MAX_LINES


def test_the_readme_test_command_is_what_ci_runs() -> None:
    prose, blocks = split_markdown(README.read_text(encoding="utf-8"))
    commands_shown = [_tokens(line) for _, lines in blocks for line in lines]
    assert ["make", "demo"] in commands_shown and ["make", "test"] in commands_shown
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").split("\n")
          if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))]
    assert ci == ["make test"]


_ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*([A-Z_]+)\s*\|\s*(.*?)\s*\|\s*$")


def test_the_exit_code_table_lists_exactly_the_exit_codes() -> None:
    rows = [m.groups() for line in (DOCS / "exit-codes.md").read_text(encoding="utf-8").split("\n")
            if (m := _ROW.match(line))]
    names = [name for _, name, _ in rows]
    assert len(names) == len(set(names)), "a code listed twice"
    assert {name: int(code) for code, name, _ in rows} == {m.name: m.value for m in ExitCode}
    assert all(meaning for _, _, meaning in rows)
    assert [int(code) for code, _, _ in rows] == sorted(m.value for m in ExitCode)


_KIND_ROW = re.compile(r"^\|\s*`([a-z_]+)`\s*\|\s*(.*?)\s*\|\s*$")


def test_the_problem_kinds_table_lists_exactly_what_verify_can_find() -> None:
    text = (DOCS / "package.md").read_text(encoding="utf-8")
    table = text[text.index("### Problem kinds"):]
    rows = [m.groups() for line in table.split("\n") if (m := _KIND_ROW.match(line))]
    assert sorted(kind for kind, _ in rows) == sorted(PROBLEM_KINDS)
    assert all(meaning for _, meaning in rows)
