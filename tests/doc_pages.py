"""Reading the project's Markdown pages in tests: sections, tables, code blocks, links, and the
generated inputs reference (docs/inputs.md)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NONE = "—"  # what docs/inputs.md writes in an adapter's column when it lacks the input


def page(name: str) -> str:
    """A page by its path from the repository root: README.md, docs/gitlab-ci.md, ..."""
    return (REPO / name).read_text(encoding="utf-8")


def pages() -> list[Path]:
    """Every Markdown page of the project's documentation."""
    found = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]
    return [path for path in found if path.exists()]


def without_code(text: str) -> str:
    """The text with fenced code blocks blanked out (their lines kept, so numbers still hold)."""
    lines, fenced = [], False
    for line in text.split("\n"):
        if line.startswith("```"):
            fenced = not fenced
            lines.append("")
            continue
        lines.append("" if fenced else line)
    return "\n".join(lines)


def section(text: str, heading: str) -> str:
    """From the heading line (e.g. "## Inputs") to the next heading of the same or a higher
    level; headings inside code blocks do not count."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.split("\n")
    plain = without_code(text).split("\n")
    start = plain.index(heading)
    end = len(lines)
    for number in range(start + 1, len(lines)):
        match = re.match(r"^(#+) ", plain[number])
        if match and len(match.group(1)) <= level:
            end = number
            break
    return "\n".join(lines[start:end])


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def split_row(line: str) -> list[str]:
    """The cells of a Markdown table row (an escaped \\| stays inside its cell)."""
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [cell.strip() for cell in cells]


def table_after(text: str, header: str) -> list[list[str]]:
    """The body rows of the table whose header line is ``header``."""
    lines = text.split("\n")
    start = lines.index(header) + 2  # the header and its |---| line
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(split_row(line))
    return rows


def unquote(cell: str) -> str:
    """A cell's text without its code span: `x` -> x; the empty cell stays empty."""
    if cell.startswith("`") and cell.endswith("`") and len(cell) >= 2:
        return cell[1:-1].replace("\\|", "|")
    return cell


REFERENCE_HEADER = (
    "| input | CLI | environment variable | GitHub Action | GitLab | Jenkins | kind | default "
    "| verbs | help |"
)


def inputs_reference(text: str | None = None) -> dict[str, dict[str, str]]:
    """docs/inputs.md's table: input name -> column -> cell, in the table's order."""
    text = page("docs/inputs.md") if text is None else text
    columns = split_row(REFERENCE_HEADER)
    found: dict[str, dict[str, str]] = {}
    for cells in table_after(text, REFERENCE_HEADER):
        assert len(cells) == len(columns), cells
        row = dict(zip(columns, cells, strict=True))
        name = unquote(re.sub(r"^<a id=\"[^\"]+\"></a>", "", row["input"]))
        found[name] = row
    return found


def adapter_column(column: str) -> list[str]:
    """The names one adapter column of docs/inputs.md lists, in order (cells without one are
    written as the dash)."""
    return [unquote(row[column]) for row in inputs_reference().values() if row[column] != NONE]


# ---------------------------------------------------------------------------------------------
# Links


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor a page has: its headings' slugs (numbered when repeated) and explicit ids."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in without_code(text).split("\n"):
        match = re.match(r"^#+ (.*)$", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    found.update(re.findall(r'<a id="([^"]+)"></a>', text))
    return found


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def relative_links(text: str) -> list[str]:
    """Link targets that are not URLs (http(s), mailto), outside code blocks."""
    return [
        target
        for target in LINK.findall(without_code(text))
        if not re.match(r"^[a-z]+:", target, flags=re.IGNORECASE)
    ]


def resolves(path: Path, target: str, root: Path = REPO) -> bool:
    """Whether a relative link of the page at ``path`` names an existing file under ``root``
    (and, for a Markdown page, an anchor it has)."""
    file_part, _, anchor = target.partition("#")
    linked = (path.parent / file_part).resolve() if file_part else path
    if not linked.exists() or not linked.is_relative_to(root):
        return False
    if anchor and linked.suffix == ".md":
        return anchor in anchors(linked.read_text(encoding="utf-8"))
    return True


def broken_links(path: Path, root: Path = REPO) -> list[str]:
    """The relative links of one page that name no existing file (or no anchor in it)."""
    text = path.read_text(encoding="utf-8")
    return [target for target in relative_links(text) if not resolves(path, target, root)]
