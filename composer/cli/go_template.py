"""`--format` of the listing commands (ps, stats) as docker's CLI reads it (docker/cli
formatter.Context): "table TEMPLATE" (a header row, then Go's tabwriter) or a bare TEMPLATE, one
line per row; the caller handles "table" and "json" alone. The template runs on
composer/cli/go_text_template.py, the inspect commands' Go text/template, over each row's fields
and docker's `.Label "key"` method."""

from __future__ import annotations

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any


def _keep(value: Any, *_: Any) -> Any:
    return value


# docker/cli formatter.HeaderFunctions: in the header row these keep the column's title as it is
_HEADER_FUNCS: dict[str, Callable[..., Any]] = {
    name: _keep for name in ("json", "split", "join", "title", "lower", "upper", "truncate")}


def render_rows(fmt: str, rows: Sequence[Mapping[str, Any]], fields: Sequence[str],
                headers: Mapping[str, str], labels: Sequence[Mapping[str, str]] | None = None) -> str:
    """*rows* (the fields a template may name, in `{{json .}}`'s order) through *fmt*; *headers*
    are the fields' column titles, *labels* each row's labels for `.Label`."""
    from composer.cli import go_text_template as T
    from composer.cli.docker_format import go_json, tabwriter

    table = fmt.startswith("table")
    body = fmt[len("table"):] if table else fmt
    tree = T.parse(body.strip(" ").replace("\\t", "\t").replace("\\n", "\n"))  # bad syntax: before any row
    lines = []
    for i, row in enumerate(rows):
        mine = (labels or [{}] * len(rows))[i]
        data = {**row, "Label": lambda key, mine=mine: mine.get(key, "")}
        # `{{json .}}` is the context's own MarshalJSON (Go's json.Marshal: <>& escaped, no methods)
        as_json = {"json": lambda v, data=data, row=row: go_json(dict(row)) if v is data else T.go_json(v)}
        lines.append(T.execute(tree, data, as_json))
    if not table:
        return "".join(line + "\n" for line in lines)
    titles = {**{f: headers.get(f, "") for f in fields},
              "Label": lambda key: key.rsplit(".", 1)[-1].upper()}  # docker: the key's last part
    head = T.execute(tree, titles, _HEADER_FUNCS)
    return tabwriter([line.split("\t") for text in [head, *lines] for line in text.split("\n")])
