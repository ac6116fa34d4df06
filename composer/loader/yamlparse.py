"""Parse one compose file's text into a plain tree (dicts, lists, scalars).

Anchors, aliases and merge keys (`<<`) work as YAML says; duplicate keys are errors with line numbers
(pyyaml silently keeps the last one); `!reset` and `!override` become marker values that the merge
stage honours and `strip_markers` removes for a file that is not merged into anything.
"""

from __future__ import annotations

import re

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from composer.errors import ConfigError
from composer.loader.markers import Override, Reset, strip_markers

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Override", "Reset", "parse_yaml", "strip_markers"]


# libyaml's parser when pyyaml was built with it (3x faster on large files); the constructor and the
# resolver, where compose's rules live, are the Python ones either way.
_Parser: Any = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader


class _Loader(_Parser):  # type: ignore[misc]
    """SafeLoader that rejects duplicate keys and knows compose's two tags."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        self._check_duplicates(node)
        explicit = {_key_text(k) for k, _ in node.value if _key_text(k) != "<<"}
        resets = {_key_text(k) for k, v in node.value if v.tag == "!reset"}
        merged_keys = self._merge_key_names(node)
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, list | dict):
                raise ConfigError(self._where(key_node), "mapping keys must be scalars")
            if key is None:
                key = "null"
            # compose-go removes a `!reset` key before it resolves merge keys, so a value the merge
            # key brings back survives; keep that quirk for identical output.
            if str(key) in resets and str(key) in merged_keys and key in mapping:
                continue
            value = self.construct_object(value_node, deep=deep)
            if str(key) in explicit or key not in mapping:
                mapping[key] = value
        return mapping

    def _merge_key_names(self, node: MappingNode) -> set[str]:
        names: set[str] = set()
        for k, v in node.value:
            if _key_text(k) != "<<":
                continue
            sources = v.value if isinstance(v, SequenceNode) else [v]
            for src in sources:
                if isinstance(src, MappingNode):
                    names |= {_key_text(sk) for sk, _ in src.value}
        return names

    def _check_duplicates(self, node: MappingNode) -> None:
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.value == "<<":
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                first = seen[key_node.value]
                what = f'line {line}: mapping key "{key_node.value}" already defined at line {first}'
                raise ConfigError(self._source, what)
            seen[key_node.value] = line

    def _where(self, node: Node) -> str:
        return f"{self._source}: line {node.start_mark.line + 1}"

    _source = "<stdin>"


def _key_text(node: Node) -> str:
    return str(node.value) if isinstance(node, ScalarNode) else ""


def _construct_reset(loader: _Loader, node: Node) -> Reset:
    return Reset(_construct_any(loader, node))


def _construct_override(loader: _Loader, node: Node) -> Override:
    return Override(_construct_any(loader, node))


def _construct_any(loader: _Loader, node: Node) -> Any:
    if isinstance(node, MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, SequenceNode):
        return loader.construct_sequence(node, deep=True)
    value = loader.construct_scalar(node)
    return None if value in ("", "~", "null") else value


def _yaml12_resolvers() -> dict[Any, Any]:
    """Plain scalars as compose-go's YAML library reads them (YAML 1.2-like): `yes`/`on` and dates stay
    strings, `8080:80` is not a base-60 number, `0o17`, `0x1f`, `1_000` and `1e3` are numbers."""
    rules = [
        ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN"),
        ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
        ("tag:yaml.org,2002:int",
         r"^[-+]?(?:[0-9][0-9_]*|0o[0-7_]*[0-7][0-7_]*|0x[0-9a-fA-F_]*[0-9a-fA-F][0-9a-fA-F_]*"
         r"|0b[01_]*[01][01_]*)$", "-+0123456789"),
        ("tag:yaml.org,2002:float",
         r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
         r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+.0123456789"),
        ("tag:yaml.org,2002:merge", r"^<<$", "<"),
    ]
    table: dict[Any, Any] = {None: [("tag:yaml.org,2002:null", re.compile(r"^$"))]}
    for tag, rx, first in rules:
        compiled = re.compile(rx)
        for ch in first:
            table.setdefault(ch, []).append((tag, compiled))
    return table


def _construct_int(loader: _Loader, node: ScalarNode) -> int:
    text = str(loader.construct_scalar(node)).replace("_", "")
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    if text.startswith("0o"):
        return sign * int(text[2:], 8)
    if text.startswith("0x"):
        return sign * int(text[2:], 16)
    if text.startswith("0b"):
        return sign * int(text[2:], 2)
    if len(text) > 1 and text.startswith("0"):  # Go's strconv base 0: a leading zero is octal
        try:
            return sign * int(text, 8)
        except ValueError:  # `09`: not octal; yaml.v3 then reads it as a float
            return sign * int(text, 10)
    return sign * int(text)


_Loader.yaml_implicit_resolvers = _yaml12_resolvers()
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("!reset", _construct_reset)
_Loader.add_constructor("!override", _construct_override)


def parse_yaml(text: str, source: str) -> dict[str, Any]:
    """Parse *text* (the file *source*) into a tree; an empty document is an empty mapping.

    Raises:
        ConfigError: malformed YAML, duplicate keys, or a top level that is not a mapping.
    """
    try:
        loader = _Loader(text)  # the reader rejects control characters here already
        loader._source = source
        try:
            doc = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(source, f"{line}{exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, f"invalid yaml: {str(exc).splitlines()[0]}") from None
    except (RecursionError, ValueError, TypeError) as exc:  # pathological alias graphs, bad timestamps
        raise ConfigError(source, f"invalid yaml: {exc}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(source, f"top-level object must be a mapping, not {_kind(doc)}")
    normalized: dict[str, Any] = _normalize_keys(doc)
    return normalized


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a sequence"
    return "a string" if isinstance(value, str) else type(value).__name__


def _normalize_keys(node: Any) -> Any:
    """Keys become strings (YAML allows `80: x` or `true: y`); values are left to later stages."""
    if isinstance(node, dict):
        return {_key_str(k): _normalize_keys(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_normalize_keys(v) for v in node]
    if isinstance(node, Reset | Override):
        return type(node)(_normalize_keys(node.value))
    return node


def _key_str(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)
