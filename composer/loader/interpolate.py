"""Variable interpolation in the values of one compose file (never in keys), as compose-go does it.

`$$` is a literal `$`; `$VAR` and `${VAR}` substitute; `${VAR:-d}`/`${VAR-d}` default when unset or
empty / unset; `${VAR:?e}`/`${VAR?e}` fail; `${VAR:+a}`/`${VAR+a}` substitute *a* when set (and non-empty).
Defaults nest (`${A:-${B:-x}}`) and are only evaluated when used. An unset variable without a default
is a warning and becomes the empty string.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from composer.errors import InterpolationError
from composer.loader.markers import Override, Reset

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["Variable", "interpolate", "substitute", "variables_in", "TemplateError"]

_NAME_START = frozenset("_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NAME_CHARS = _NAME_START | frozenset("0123456789")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class TemplateError(ValueError):
    """A template is malformed (`invalid`) or names a required variable that is missing."""

    def __init__(self, message: str, *, required: bool = False) -> None:
        super().__init__(message)
        self.required = required


@dataclass(frozen=True, slots=True)
class Variable:
    """A variable a template refers to, for `config --variables`."""

    name: str
    required: bool = False
    default: str = ""
    alternate: str = ""


Lookup = Callable[[str], "str | None"]


def substitute(template: str, lookup: Lookup, on_unset: Callable[[str], None] | None = None) -> str:
    """Expand *template*. *lookup* returns None for an unset variable; *on_unset* hears about one
    that had no default. Raises TemplateError."""
    out, _ = _expand(template, 0, lookup, on_unset, stop_at_brace=False)
    return out


def _expand(text: str, pos: int, lookup: Lookup, on_unset: Callable[[str], None] | None,
            *, stop_at_brace: bool) -> tuple[str, int]:
    out: list[str] = []
    n = len(text)
    while pos < n:
        ch = text[pos]
        if stop_at_brace and ch == "}":
            return "".join(out), pos
        if ch != "$":
            out.append(ch)
            pos += 1
            continue
        nxt = text[pos + 1] if pos + 1 < n else ""
        if nxt == "$":
            out.append("$")
            pos += 2
        elif nxt == "{":
            value, pos = _braced(text, pos + 2, lookup, on_unset)
            out.append(value)
        elif nxt in _NAME_START:
            end = pos + 1
            while end < n and text[end] in _NAME_CHARS:
                end += 1
            name = text[pos + 1:end]
            found = lookup(name)
            if found is None and on_unset:
                on_unset(name)
            out.append(found or "")
            pos = end
        else:  # a lone `$` is kept as it is, like compose-go
            out.append("$")
            pos += 1
    if stop_at_brace:
        raise TemplateError("unterminated ${")
    return "".join(out), pos


def _braced(text: str, pos: int, lookup: Lookup,
            on_unset: Callable[[str], None] | None) -> tuple[str, int]:
    """Expand `${...}` whose body starts at *pos*; returns the value and the index after `}`."""
    n = len(text)
    end = pos
    if end < n and text[end] in _NAME_START:
        end += 1
        while end < n and text[end] in _NAME_CHARS:
            end += 1
    name = text[pos:end]
    if not name:
        raise TemplateError("missing variable name")
    if end < n and text[end] == "}":
        value = lookup(name)
        if value is None:
            if on_unset:
                on_unset(name)
            value = ""
        return value, end + 1
    op = next((o for o in _OPERATORS if text.startswith(o, end)), None)
    if op is None:
        raise TemplateError("invalid character after variable name")
    arg_start = end + len(op)
    value = lookup(name)
    is_set = value is not None
    non_empty = bool(value)
    use_arg = {
        ":-": not non_empty, "-": not is_set,
        ":?": not non_empty, "?": not is_set,
        ":+": non_empty, "+": is_set,
    }[op]
    # The argument is expanded only when it is used (a nested `${X:?}` must not fire otherwise), but
    # it is always scanned so the closing brace is found. compose-go v2.9.1 (docker compose v2.40.3)
    # still expanded it eagerly, so `${SET:-${UNSET:?e}}` fails there; later compose-go is lazy, as here.
    silent: Lookup = lambda _n: "_"  # noqa: E731  (non-empty: nothing fires)
    arg, close = _expand(text, arg_start, lookup if use_arg else silent,
                         on_unset if use_arg else None, stop_at_brace=True)
    if op in (":?", "?"):
        if use_arg:
            msg = f"required variable {name} is missing a value"
            raise TemplateError(f"{msg}: {arg}" if arg else msg, required=True)
        return value or "", close + 1
    if op in (":+", "+"):
        return (arg if use_arg else ""), close + 1
    return (arg if use_arg else value or ""), close + 1


def _to_int(value: str) -> Any:
    if not value.lstrip("+-").isdigit() or not value.isascii():  # strconv.Atoi: no spaces, no `_`
        raise ValueError(f"invalid syntax {value!r}")
    return int(value, 10)


def _to_float(value: str) -> Any:
    if value.strip() != value or value.lower() in ("inf", "+inf", "-inf", "nan", "infinity"):
        raise ValueError(f"invalid syntax {value!r}")
    return float(value)


def _to_bool(value: str) -> Any:
    low = value.lower()
    if low in ("true", "y", "yes", "on"):
        return True
    if low in ("false", "n", "no", "off"):
        return False
    raise ValueError(f"invalid boolean: {value}")


# Paths whose interpolated strings become typed values, as compose-go's interpolateTypeCastMapping in
# v2.9.1, the version docker compose v2.40.3 embeds (later versions also cast depends_on.*.required)
# (`*` is any key, `[]` any list index).
CASTS: Final[dict[str, Callable[[str], Any]]] = {
    **{f"services.*.{k}": _to_int for k in (
        "cpu_count", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_shares",
        "deploy.replicas", "deploy.update_config.parallelism", "deploy.rollback_config.parallelism",
        "deploy.restart_policy.max_attempts", "deploy.placement.max_replicas_per_node",
        "healthcheck.retries", "oom_score_adj", "pids_limit", "ports.[].target", "scale",
        "ulimits.*", "ulimits.*.hard", "ulimits.*.soft")},
    **{f"services.*.{k}": _to_float for k in (
        "cpu_percent", "cpus", "deploy.update_config.max_failure_ratio",
        "deploy.rollback_config.max_failure_ratio")},
    **{f"services.*.{k}": _to_bool for k in (
        "init", "healthcheck.disable", "oom_kill_disable", "depends_on.*.restart",
        "privileged", "read_only", "stdin_open", "tty", "volumes.[].read_only", "volumes.[].volume.nocopy")},
    **{f"{k}": _to_bool for k in (
        "networks.*.external", "networks.*.internal", "networks.*.attachable", "networks.*.enable_ipv4",
        "networks.*.enable_ipv6", "volumes.*.external", "secrets.*.external", "configs.*.external")},
}
_CAST_PATTERNS: Final[dict[int, list[tuple[tuple[str, ...], Callable[[str], Any]]]]] = {}
for _key, _cast in CASTS.items():
    _CAST_PATTERNS.setdefault(_key.count(".") + 1, []).append((tuple(_key.split(".")), _cast))


def _caster(parts: tuple[str, ...]) -> Callable[[str], Any] | None:
    if len(parts) < 2 or parts[0] not in ("services", "networks", "volumes", "secrets", "configs"):
        return None
    for pattern, cast in _CAST_PATTERNS.get(len(parts), ()):
        if all(
                p in ("*", k) or (p == "[]" and k.startswith("["))
                for p, k in zip(pattern, parts, strict=True)):
            return cast
    return None


def _where(parts: tuple[str, ...]) -> str:
    out = ""
    for p in parts:
        out += p if p.startswith("[") or not out else f".{p}"
    return out


def interpolate(tree: Any, environ: Mapping[str, str], source: str,
                warnings: list[str] | None = None, path: str = "") -> Any:
    """Return *tree* with every string value expanded against *environ*, and the values of CASTS
    paths typed (`replicas: "${N}"` becomes an int). Keys are not touched.

    Raises:
        InterpolationError: where = "<source>: <tree path>".
    """
    warned: set[str] = set()

    def on_unset(name: str) -> None:
        if warnings is not None and name not in warned:
            warned.add(name)
            msg = f'The "{name}" variable is not set. Defaulting to a blank string.'
            if msg not in warnings:
                warnings.append(msg)

    def walk(node: Any, parts: tuple[str, ...]) -> Any:
        if isinstance(node, str):
            loc = f"{source}: {_where(parts)}" if source else _where(parts)
            try:
                value = substitute(node, environ.get, on_unset)
            except TemplateError as exc:
                if exc.required:
                    raise InterpolationError(loc, str(exc)) from None
                raise InterpolationError(
                    loc, f"invalid interpolation format {node!r}: {exc}; escape a literal $ as $$"
                ) from None
            cast = _caster(parts)
            if cast is None:
                return value
            try:
                return cast(value)
            except ValueError as exc:
                raise InterpolationError(loc, f"failed to cast to expected type: {exc}") from None
        if isinstance(node, dict):
            return {k: walk(v, (*parts, str(k))) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, (*parts, f"[{i}]")) for i, v in enumerate(node)]
        if isinstance(node, Reset | Override):
            return type(node)(walk(node.value, parts))
        return node

    return walk(tree, tuple(path.split(".")) if path else ())


def variables_in(tree: Any) -> dict[str, Variable]:
    """Every variable the string values of *tree* refer to (for `config --variables`)."""
    found: dict[str, Variable] = {}

    def scan(text: str) -> None:
        pos, n = 0, len(text)
        while pos < n:
            if text[pos] != "$":
                pos += 1
                continue
            nxt = text[pos + 1] if pos + 1 < n else ""
            if nxt == "$":
                pos += 2
            elif nxt == "{":
                end = pos + 2
                while end < n and text[end] in _NAME_CHARS:
                    end += 1
                name = text[pos + 2:end]
                op = next((o for o in _OPERATORS if text.startswith(o, end)), None)
                arg = ""
                if op is not None:
                    depth, k = 0, end + len(op)
                    while k < n and not (text[k] == "}" and depth == 0):
                        if text.startswith("${", k):
                            depth += 1
                            k += 1
                        elif text[k] == "}":
                            depth -= 1
                        k += 1
                    arg = text[end + len(op):k]
                    scan(arg)
                if name and name not in found:
                    found[name] = Variable(
                        name,
                        required=op in (":?", "?"),
                        default=arg if op in (":-", "-") else "",
                        alternate=arg if op in (":+", "+") else "",
                    )
                pos = end
            elif nxt in _NAME_START:
                end = pos + 1
                while end < n and text[end] in _NAME_CHARS:
                    end += 1
                found.setdefault(text[pos + 1:end], Variable(text[pos + 1:end]))
                pos = end
            else:
                pos += 1

    def walk(node: Any) -> None:
        if isinstance(node, str):
            scan(node)
        elif isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, Reset | Override):
            walk(node.value)

    walk(tree)
    return found
