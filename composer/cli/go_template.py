"""`--format` as docker's CLI reads it (docker/cli formatter.Context): "table", "json", "table
TEMPLATE" (a header row, then Go's tabwriter) or a bare TEMPLATE, one line per row. The templates
are the subset scripts write: {{.Field}}, {{json .Field}}, {{json .}}, {{.Label "key"}}, and the
lower/upper/title functions; anything else is refused by name, not printed wrong."""

from __future__ import annotations

import json
import re

from composer.errors import UsageError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)
_FUNCS = {"lower": str.lower, "upper": str.upper, "title": str.title}


def render_rows(fmt: str, rows: Sequence[Mapping[str, Any]], fields: Sequence[str],
                headers: Mapping[str, str], labels: Sequence[Mapping[str, str]] | None = None) -> str:
    """*rows* through *fmt*; *fields* are the names a template may use (checked first, so that a
    typo fails even with no row), *headers* their column titles."""
    from composer.cli.docker_format import tabwriter

    table = fmt.startswith("table")
    body = fmt[len("table"):] if table else fmt
    body = body.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    _check(body, dict.fromkeys(fields, ""))
    lines = [_render(body, row, (labels or [{}] * len(rows))[i]) for i, row in enumerate(rows)]
    if not table:
        return "".join(line + "\n" for line in lines)
    head = _render(body, {f: headers.get(f, "") for f in fields}, None)
    cells = [line.split("\t") for text in [head, *lines] for line in text.split("\n")]
    return tabwriter(cells)


def _check(body: str, sample: Mapping[str, Any]) -> None:
    for m in _ACTION.finditer(body):
        _value(m.group(2), sample, {})


def _render(body: str, row: Mapping[str, Any], labels: Mapping[str, str] | None) -> str:
    def repl(m: re.Match[str]) -> str:
        return go_print(_value(m.group(2), row, labels))

    text = body
    # {{- and -}} trim the white space next to them, as Go's text/template
    text = re.sub(r"\s+(?=\{\{-)", "", text)
    text = re.sub(r"(?<=-\}\})\s+", "", text)
    return _ACTION.sub(repl, text)


def _value(expr: str, row: Mapping[str, Any], labels: Mapping[str, str] | None) -> Any:
    from composer.cli.docker_format import go_json

    words = expr.split(None, 1)
    if words and (words[0] == "json" or words[0] in _FUNCS):
        arg = words[1] if len(words) > 1 else ""
        value = _value(arg, row, labels)
        if labels is None:  # a table's header: docker's HeaderFunctions leave the title as it is
            return value
        if words[0] in _FUNCS:
            return _FUNCS[words[0]](go_print(value))
        if arg == ".":  # the context's own MarshalJSON: Go's json.Marshal, which escapes <>&
            return go_json(value)
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)  # SetEscapeHTML(false)
    if expr == ".":
        return dict(row)
    m = re.fullmatch(r'\.Label\s+"([^"]*)"', expr)
    if m:
        if labels is None:  # the header row: docker prints the key's last part, upper-cased
            return m.group(1).rsplit(".", 1)[-1].upper()
        return labels.get(m.group(1), "")
    m = re.fullmatch(r"\.([A-Za-z_]\w*)", expr)
    if m and m.group(1) in row:
        return row.get(m.group(1), "")
    raise UsageError(f"template parsing error: {{{{{expr}}}}}: expected one of "
                     + ", ".join(f".{k}" for k in sorted(row)) + ', .Label "KEY", json, lower, upper')


def go_print(value: Any) -> str:
    """A value as Go's fmt prints it in a template: lists in [], structs in {}, spaces between."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(go_print(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + " ".join(go_print(v) for v in value.values()) + "}"
    return str(value)
