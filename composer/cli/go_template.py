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


class _Titles(dict):  # type: ignore[type-arg]
    """docker/cli's SubHeaderContext, a map[string]string the header row runs on: a field with no
    title is a key Go's map lacks, which a template prints as <no value>."""

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> None:
        return None


def _header_label(key: str) -> str:
    """SubHeaderContext.Label: the key's last dotted part, '-' and '_' as spaces, case kept."""
    return key.rsplit(".", 1)[-1].replace("-", " ").replace("_", " ")


def _label_method(labels: Mapping[str, str]) -> Callable[[str], str]:
    """docker's `.Label "key"`: the label's value, "" when the row has no such label."""
    return lambda key: labels.get(key, "")


def _json_function(data: Any, row: Mapping[str, Any]) -> Callable[[Any], str]:
    """`json`, where `{{json .}}` is the context's own MarshalJSON: Go's json.Marshal of its fields
    as a map (keys sorted, <>& escaped, no methods)."""
    from composer.cli import go_text_template as T
    from composer.cli.docker_format import go_json

    return lambda v: go_json(dict(sorted(row.items()))) if v is data else T.go_json(v)


def render_rows(fmt: str, rows: Sequence[Mapping[str, Any]], fields: Sequence[str],
                headers: Mapping[str, str], labels: Sequence[Mapping[str, str]] | None = None) -> str:
    """*rows* (the fields a template may name) through *fmt*; *headers*
    are the fields' column titles, *labels* each row's labels for `.Label`."""
    from composer.cli import go_text_template as T
    from composer.cli.docker_format import tabwriter

    table = fmt.startswith("table")
    body = fmt[len("table"):] if table else fmt
    tree = T.parse(body.strip(" ").replace("\\t", "\t").replace("\\n", "\n"))  # bad syntax: before any row
    lines = []
    for i, row in enumerate(rows):
        data = {**row, "Label": _label_method((labels or [{}] * len(rows))[i])}
        lines.append(T.execute(tree, data, {"json": _json_function(data, row)}))
    if not table:
        return "".join(line + "\n" for line in lines)
    titles = _Titles({f: headers[f] for f in fields if f in headers}, Label=_header_label)
    head = T.execute(tree, titles, _HEADER_FUNCS)
    return tabwriter([line.split("\t") for text in [head, *lines] for line in text.split("\n")])
