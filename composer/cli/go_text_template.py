"""Go's text/template, as `docker inspect --format` runs it over an inspect document, for the
inspect commands (container, image, network, volume). Scripts write more than field paths:
``{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}``, ``{{index .Config.Labels "k"}}``,
``{{range $k, $v := .Config.Labels}}``, ``{{if .State.Running}}``, ``{{json .Mounts}}``,
``{{join .Config.Env ","}}``, ``{{printf "%s" .Name}}``, pipes and ``{{- -}}`` trimming.

The data is the JSON document (dicts, lists, str, int, float, bool, None). As docker's CLI falls back
to the raw JSON map when its typed struct has no such field, a missing key is an error ("map has no
entry for key"), as docker prints it. A JSON object that is a Go map (labels, networks, ports) is a
GoMap, printed ``map[k:v]`` with sorted keys; any other dict is a struct, printed ``{v1 v2}``.
Functions: Go's builtins (and, or, not, len, index, slice, eq, ne, lt, le, gt, ge, print, printf,
println) and docker's (json, join, split, lower, upper, title, pad, truncate). Not supported:
define, template, block (refused by name).
"""

from __future__ import annotations

import re

from composer.cli.docker_format import go_json as encode_json
from composer.cli.docker_format import go_quote
from composer.errors import UsageError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any


class GoMap(dict):  # type: ignore[type-arg]
    """A JSON object that is a Go map in docker's types (printed map[k:v], keys sorted)."""


class GoStruct(dict):  # type: ignore[type-arg]
    """A JSON object that is a Go struct whose *omitempty* fields are left out of its JSON when
    empty; a template still reads them (docker runs it on the typed struct first)."""

    def __init__(self, fields: dict[str, Any], omitempty: Sequence[str] = ()) -> None:
        super().__init__(fields)
        self.omitempty = frozenset(omitempty)


def plain(value: Any) -> Any:
    """*value* as Go's json.Marshal writes it: map keys sorted, empty omitempty fields left out."""
    if isinstance(value, GoMap):
        return {k: plain(value[k]) for k in sorted(value)}
    if isinstance(value, GoStruct):
        return {k: plain(v) for k, v in value.items()
                if not (k in value.omitempty and (v is None or v is False or v in ("", 0, [], {})))}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


class TemplateError(UsageError):
    pass


# ---- lexing -----------------------------------------------------------------------------------

# patterns compiled on first use (re caches them): the default JSON output needs none
_TOKEN = r"""(?x)
    (?P<space>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\]|\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.))')
  | (?P<decl>:=)
  | (?P<num>[-+]?(?:0[xX][0-9a-fA-F]+|\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?))
  | (?P<field>(?:\.[A-Za-z_]\w*)+|\.)
  | (?P<var>\$\w*(?:\.[A-Za-z_]\w*)*)
  | (?P<ident>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)
  | (?P<punct>[()|,=])
"""


def _tokens(src: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(src):
        m = re.compile(_TOKEN).match(src, pos)
        if m is None:
            raise TemplateError(f"template: unexpected {src[pos]!r} in {{{{{src}}}}}")
        pos = m.end()
        kind = m.lastgroup or ""
        if kind != "space":
            out.append((kind, m.group()))
    # a closing parenthesis followed by a field: (index .A 0).B
    merged: list[tuple[str, str]] = []
    for kind, text in out:
        if kind == "field" and merged and merged[-1] == ("punct", ")") and text != ".":
            merged.append(("chain", text))
        else:
            merged.append((kind, text))
    return merged


_ACTION = r"(?s)\{\{(-\s)?(.*?)(\s-)?\}\}"


def _split(template: str) -> list[tuple[str, str]]:
    """Text and actions, with {{- and -}} trimming applied and comments dropped."""
    parts: list[tuple[str, str]] = []
    pos = 0
    for m in re.finditer(_ACTION, template):
        text = template[pos:m.start()]
        if m.group(1):
            text = text.rstrip()
        parts.append(("text", text))
        body = m.group(2).strip()
        if not (body.startswith("/*") and body.endswith("*/")):
            parts.append(("action", body))
        pos = m.end()
        if m.group(3):
            rest = template[pos:]
            pos += len(rest) - len(rest.lstrip())
    parts.append(("text", template[pos:]))
    return [p for p in parts if p != ("text", "")]


# ---- parsing ----------------------------------------------------------------------------------
# nodes are tuples: ("text", s) | ("action", pipe) | ("if"|"with", pipe, body, else_body)
# | ("range", pipe, body, else_body); pipe = (decl_vars, assign, commands); command = [operands]
# operand = ("field", base, names) | ("lit", value) | ("func", name) | ("pipe", pipe, names)

def parse(template: str) -> list[Any]:
    parts = _split(template)
    nodes, end, pos = _parse_list(parts, 0)
    if end is not None:
        raise TemplateError(f"template: unexpected {{{{{end}}}}}")
    return nodes


def _parse_list(parts: list[tuple[str, str]], pos: int) -> tuple[list[Any], str | None, int]:
    """Nodes up to an {{end}} / {{else ...}} (returned as the stopper) or the end of the input."""
    nodes: list[Any] = []
    while pos < len(parts):
        kind, body = parts[pos]
        pos += 1
        if kind == "text":
            nodes.append(("text", body))
            continue
        word = body.split(None, 1)[0] if body else ""
        if word in ("end", "else"):
            return nodes, body, pos
        if word in ("if", "with", "range"):
            node, pos = _parse_block(word, body[len(word):], parts, pos)
            nodes.append(node)
            continue
        if word in ("define", "template", "block", "break", "continue"):
            raise TemplateError(f"template: {{{{{word}}}}} is not supported")
        if not body:
            raise TemplateError("template: missing value for command")
        nodes.append(("action", _parse_pipe(_tokens(body), allow_decl=True)))
    return nodes, None, pos


def _parse_block(word: str, head: str, parts: list[tuple[str, str]], pos: int) -> tuple[Any, int]:
    """An if/with/range block after its opening action, through its {{end}}."""
    pipe = _parse_pipe(_tokens(head), allow_decl=word in ("range", "with"))
    inner, stop, pos = _parse_list(parts, pos)
    other: list[Any] = []
    if stop is not None and stop.startswith("else"):
        rest = stop[4:].strip()
        if word in ("if", "with") and rest.split(None, 1)[:1] == [word]:
            # {{else if x}} / {{else with x}}: a nested block that shares the closing {{end}}
            nested, pos = _parse_block(word, rest[len(word):], parts, pos)
            return (word, pipe, inner, [nested]), pos
        other, stop, pos = _parse_list(parts, pos)
    if stop != "end":
        raise TemplateError(f"template: unexpected EOF: {{{{{word}}}}} without {{{{end}}}}")
    return (word, pipe, inner, other), pos


def _parse_pipe(toks: list[tuple[str, str]], allow_decl: bool) -> tuple[list[str], bool, list[Any]]:
    decl: list[str] = []
    assign = False
    # $x := ..., $k, $v := ..., $x = ...
    for i, (kind, text) in enumerate(toks):
        if kind == "decl" or (kind == "punct" and text == "="):
            names = [t for k, t in toks[:i] if k != "punct" or t != ","]
            if allow_decl and names and all(re.fullmatch(r"\$\w*", n) for n in names):
                decl, assign, toks = names, text == "=", toks[i + 1:]
            break
        if kind not in ("var", "punct"):
            break
    cmds, rest = _parse_cmds(toks, 0)
    if rest < len(toks):
        raise TemplateError(f"template: unexpected {toks[rest][1]!r}")
    if not cmds:
        raise TemplateError("template: missing value for command")
    return decl, assign, cmds


def _parse_cmds(toks: list[tuple[str, str]], pos: int) -> tuple[list[Any], int]:
    cmds: list[Any] = []
    cmd: list[Any] = []
    while pos < len(toks):
        kind, text = toks[pos]
        if kind == "punct" and text == ")":
            break
        pos += 1
        if kind == "punct" and text == "|":
            if not cmd:
                raise TemplateError("template: missing command before |")
            cmds.append(cmd)
            cmd = []
        elif kind == "punct" and text == "(":
            sub, pos = _parse_cmds(toks, pos)
            if pos >= len(toks):
                raise TemplateError("template: unclosed left paren")
            pos += 1
            names: list[str] = []
            if pos < len(toks) and toks[pos][0] == "chain":
                names = toks[pos][1].split(".")[1:]
                pos += 1
            cmd.append(("pipe", ([], False, sub), names))
        else:
            cmd.append(_operand(kind, text))
    if cmd:
        cmds.append(cmd)
    return cmds, pos


def _operand(kind: str, text: str) -> Any:
    if kind == "field":
        return ("field", ".", [n for n in text.split(".") if n])
    if kind == "var":
        base, *names = text.split(".")
        return ("field", base, names)
    if kind == "str":
        return ("lit", _unquote(text))
    if kind == "raw":
        return ("lit", text[1:-1])
    if kind == "char":
        char = _unquote(text)
        if len(char) != 1:
            raise TemplateError(f"template: malformed character constant: {text}")
        return ("lit", ord(char))
    if kind == "num":
        try:
            return ("lit", int(text, 0))
        except ValueError:
            return ("lit", float(text))
    if kind == "ident":
        if text in ("true", "false"):
            return ("lit", text == "true")
        if text == "nil":
            return ("lit", None)
        name, *names = text.split(".")
        if name not in FUNCS:
            raise TemplateError(f'template: function "{name}" not defined')
        if names:
            raise TemplateError(f"template: unexpected {text!r}")
        return ("func", name)
    raise TemplateError(f"template: unexpected {text!r}")


_ESCAPE = r"""\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{3})|([abfnrtv\\"'])|(.?))"""
_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unquote(text: str) -> str:
    """A quoted string or character as Go's strconv.Unquote reads it (\\x41, \\u00e9, \\101, \\t...)."""
    def one(m: re.Match[str]) -> str:
        hex2, hex4, hex8, octal, simple, bad = m.groups()
        if bad is not None:
            raise TemplateError(f"template: invalid syntax: {text}")
        if simple is not None:
            return _SIMPLE.get(simple, simple)
        return chr(int(octal, 8) if octal else int(hex2 or hex4 or hex8, 16))

    try:
        return re.sub(_ESCAPE, one, text[1:-1])
    except (ValueError, OverflowError):  # a code point beyond Unicode
        raise TemplateError(f"template: invalid syntax: {text}") from None


# ---- execution --------------------------------------------------------------------------------

class _Scope:
    def __init__(self, root: Any, funcs: Mapping[str, Callable[..., Any]] | None = None) -> None:
        self.vars: list[tuple[str, Any]] = [("$", root)]
        self.funcs = FUNCS if funcs is None else {**FUNCS, **funcs}

    def get(self, name: str) -> Any:
        for n, v in reversed(self.vars):
            if n == name:
                return v
        raise TemplateError(f"template: undefined variable: {name}")

    def set(self, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        raise TemplateError(f"template: undefined variable: {name}")


def print_inspect(docs: Sequence[Any], fmt: str) -> None:
    """An inspect command's output: a JSON array (the default and "json"), or *fmt* executed over
    each document, one line each, as docker's inspect --format."""
    if fmt in ("json", ""):  # the daemon's JSON (HTML escaped) indented by docker's CLI
        print(encode_json(plain(list(docs)), indent=4))
        return
    fmt = fmt.replace("\\n", "\n").replace("\\t", "\t")  # a literal \n in the flag, as docker's CLI
    tree = parse(fmt)  # a bad template fails before anything is printed
    for doc in docs:
        out: list[str] = []
        _exec(tree, doc, _Scope(doc), out)
        print("".join(out))


def render(template: str, data: Any) -> str:
    """*template* executed over *data*. Raises TemplateError (a UsageError) with Go's words."""
    return execute(parse(template), data)


def execute(tree: list[Any], data: Any, funcs: Mapping[str, Callable[..., Any]] | None = None) -> str:
    """A parsed template executed over *data*, with *funcs* in place of the standard functions of
    those names (docker's table headers replace json, lower... with functions that keep the title)."""
    out: list[str] = []
    _exec(tree, data, _Scope(data, funcs), out)
    return "".join(out)


def _exec(nodes: Sequence[Any], dot: Any, scope: _Scope, out: list[str]) -> None:
    for node in nodes:
        kind = node[0]
        if kind == "text":
            out.append(node[1])
        elif kind == "action":
            decl = node[1][0]
            value = _pipe(node[1], dot, scope)
            if not decl:
                out.append(go_print(value, top=True))
        elif kind in ("if", "with"):
            mark = len(scope.vars)
            value = _pipe(node[1], dot, scope)
            if truth(value):
                _exec(node[2], value if kind == "with" else dot, scope, out)
            else:
                _exec(node[3], dot, scope, out)
            del scope.vars[mark:]
        elif kind == "range":
            _range(node, dot, scope, out)


def _range(node: Any, dot: Any, scope: _Scope, out: list[str]) -> None:
    (decl, _, cmds), body, other = node[1], node[2], node[3]
    value = _pipe(([], False, cmds), dot, scope)
    if isinstance(value, dict):
        items = [(k, value[k]) for k in sorted(value)]
    elif isinstance(value, list):
        items = list(enumerate(value))
    elif isinstance(value, int) and not isinstance(value, bool):
        items = [(i, i) for i in range(value)]
    elif value is None:
        items = []
    else:
        raise TemplateError(f"template: range can't iterate over {go_print(value)}")
    if not items:
        _exec(other, dot, scope, out)
        return
    for key, elem in items:
        mark = len(scope.vars)
        if len(decl) == 1:
            scope.vars.append((decl[0], elem))
        elif len(decl) == 2:
            scope.vars += [(decl[0], key), (decl[1], elem)]
        _exec(body, elem, scope, out)
        del scope.vars[mark:]


def _pipe(pipe: Any, dot: Any, scope: _Scope) -> Any:
    decl, assign, cmds = pipe
    value: Any = None
    for i, cmd in enumerate(cmds):
        value = _command(cmd, dot, scope, (value,) if i else ())
    for name in decl[-1:]:
        if assign:
            scope.set(name, value)
        else:
            scope.vars.append((name, value))
    return value


def _command(cmd: list[Any], dot: Any, scope: _Scope, piped: tuple[Any, ...]) -> Any:
    head = cmd[0]
    if head[0] == "func":
        name = head[1]
        if name in ("and", "or"):  # short-circuit, as Go 1.18
            args = [lambda a=a: _arg(a, dot, scope) for a in cmd[1:]] + [lambda v=v: v for v in piped]
            return _and_or(name, args)
        return _call(scope, name, [_arg(a, dot, scope) for a in cmd[1:]] + list(piped))
    value = _arg(head, dot, scope)
    if callable(value):  # a method of the data, as docker's ps context has `.Label "key"`
        args = [*[_arg(a, dot, scope) for a in cmd[1:]], *piped]
        try:
            return value(*args)
        except TypeError:  # its arity, as Go's evalCall refuses it before the call
            raise TemplateError(f"template: executing at <{_describe(head)}>: wrong number of args for "
                                f"{_describe(head).rsplit('.', 1)[-1]}: got {len(args)}") from None
    if len(cmd) > 1 or piped:
        raise TemplateError(f"template: can't give argument to non-function {_describe(head)}")
    return value


def _and_or(name: str, thunks: Sequence[Callable[[], Any]]) -> Any:
    if not thunks:
        raise TemplateError(f"template: wrong number of args for {name}: want at least 1 got 0")
    value = None
    for thunk in thunks:
        value = thunk()
        if truth(value) == (name == "or"):
            return value
    return value


def _arg(op: Any, dot: Any, scope: _Scope) -> Any:
    kind = op[0]
    if kind == "lit":
        return op[1]
    if kind == "func":
        return _call(scope, op[1], [])
    if kind == "pipe":
        return _fields(_pipe(op[1], dot, scope), op[2], "(...)")
    base = dot if op[1] == "." else scope.get(op[1])
    return _fields(base, op[2], op[1] if op[1] != "." else "")


def _fields(value: Any, names: Sequence[str], where: str) -> Any:
    here = "<" + where + "".join("." + n for n in names) + ">"  # Go names the whole field chain
    for name in names:
        if isinstance(value, dict):
            if name not in value:
                raise TemplateError(f'template: executing at {here}: map has no entry for key "{name}"')
            value = value[name]
        elif value is None:
            raise TemplateError(f"template: executing at {here}: "
                                f"nil pointer evaluating interface {{}}.{name}")
        else:
            raise TemplateError(f"template: executing at {here}: can't evaluate field {name} "
                                f"in type {_go_type(value)}")
    return value


def _describe(op: Any) -> str:
    if op[0] == "field":
        return (op[1] if op[1] != "." else "") + "".join("." + n for n in op[2]) or "."
    return go_print(op[1]) if op[0] == "lit" else "(...)"


# ---- values -----------------------------------------------------------------------------------

def truth(value: Any) -> bool:
    """Go's truth: false, 0, nil and empty strings, lists and maps are false."""
    if isinstance(value, (bool, int, float, str, list, dict)):
        return bool(value)
    return value is not None


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    return "map[string]interface {}" if isinstance(value, dict) else "interface {}"


def _go_float(x: float) -> str:
    """strconv.FormatFloat(x, 'g', -1, 64): shortest digits; exponent below 1e-4 or from 1e21."""
    if x != x or x in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}[repr(x)]
    if x == int(x) and abs(x) < 1e21:
        return str(int(x))
    text = repr(x)
    if "e" in text:
        mant, _, exp = text.partition("e")
        sign = "-" if exp.startswith("-") else "+"
        return f"{mant}e{sign}{int(exp.lstrip('+-')):02d}"
    return text


def go_print(value: Any, top: bool = False) -> str:
    """*value* as Go's fmt %v prints it in a template (nil at the top: <no value>)."""
    if value is None:
        return "<no value>" if top else "<nil>"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, list):
        return "[" + " ".join(go_print(v) for v in value) + "]"
    if isinstance(value, GoMap):
        return "map[" + " ".join(f"{k}:{go_print(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, dict):
        return "{" + " ".join(go_print(v) for v in value.values()) + "}"
    return str(value)


def go_json(value: Any) -> str:
    """docker's json function: Go's json.Encoder with SetEscapeHTML(false); map keys sorted."""
    return encode_json(plain(value), escape_html=False)


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(item, dict):
            # a missing key: the zero value of the map's element type, as Go's index ("" for labels)
            item = item[key] if key in item else ("" if all(isinstance(v, str) for v in item.values())
                                                   else None)
        elif isinstance(item, (list, str)):
            if not isinstance(key, int) or isinstance(key, bool):
                raise TemplateError(f"template: error calling index: cannot index slice/array with "
                                    f"type {_go_type(key)}")
            if not 0 <= key < len(item):
                raise TemplateError(f"template: error calling index: index out of range: {key}")
            item = item[key] if isinstance(item, list) else ord(item[key])
        elif item is None:
            raise TemplateError("template: error calling index: index of untyped nil")
        else:
            raise TemplateError(f"template: error calling index: can't index item of type {_go_type(item)}")
    return item


def _len(item: Any) -> int:
    if isinstance(item, (str, list, dict)):
        return len(item)
    raise TemplateError(f"template: error calling len: len of type {_go_type(item)}")


def _compare(name: str, a: Any, b: Any) -> bool:
    number = (int, float)
    same = (isinstance(a, bool) == isinstance(b, bool)
            and ((isinstance(a, number) and isinstance(b, number)) or type(a) is type(b)))
    if not same:
        if name in ("eq", "ne") and (a is None or b is None):
            return (a is b) == (name == "eq")
        raise TemplateError(f"template: error calling {name}: incompatible types for comparison")
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "eq": lambda x, y: bool(x == y), "ne": lambda x, y: bool(x != y), "lt": lambda x, y: bool(x < y),
        "le": lambda x, y: bool(x <= y), "gt": lambda x, y: bool(x > y), "ge": lambda x, y: bool(x >= y)}
    if name not in ("eq", "ne") and isinstance(a, (list, dict, bool)):
        raise TemplateError(f"template: error calling {name}: invalid type for comparison")
    return ops[name](a, b)


def _eq(a: Any, *bs: Any) -> bool:
    if not bs:
        raise TemplateError("template: error calling eq: missing argument for comparison")
    return any(_compare("eq", a, b) for b in bs)


_VERB = r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+))?([a-zA-Z%])"


def _printf(fmt: str, *args: Any) -> str:
    """Go's Sprintf for the verbs scripts use: %s %v %d %q %t %f %x %%."""
    queue = list(args)

    def verb(m: re.Match[str]) -> str:
        flags, width, prec, v = m.groups()
        if v == "%":
            return "%"
        if not queue:
            return f"%!{v}(MISSING)"
        arg = queue.pop(0)
        if v in ("s", "v"):
            text = go_print(arg)
        elif v == "q":  # strconv.Quote
            text = go_quote(go_print(arg))
        elif v == "t":
            text = go_print(arg)
        elif v == "d" and isinstance(arg, int):
            text = str(arg)
        elif v in ("f", "e", "g") and isinstance(arg, (int, float)):
            text = format(arg, f".{prec if prec else 6}{v}") if v != "g" else _go_float(float(arg))
        elif v in ("x", "X") and isinstance(arg, (int, str)):
            text = format(arg, v) if isinstance(arg, int) else arg.encode().hex()
            text = text.upper() if v == "X" else text
        else:
            return f"%!{v}({_go_type(arg)}={go_print(arg)})"
        if width and width != "*":
            pad = "0" if "0" in flags else " "
            text = text.ljust(int(width)) if "-" in flags else text.rjust(int(width), pad)
        return text

    text = re.sub(_VERB, verb, fmt)
    if queue:
        text += "%!(EXTRA " + ", ".join(f"{_go_type(a)}={go_print(a)}" for a in queue) + ")"
    return text


def _print(*args: Any) -> str:
    # Go's Sprint: a space between operands when neither is a string
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += go_print(a)
    return out


def _slice(item: Any, *idx: Any) -> Any:
    if not isinstance(item, (list, str)):
        raise TemplateError(f"template: error calling slice: can't slice item of type {_go_type(item)}")
    return item[slice(*idx)] if idx else item


def _title(s: Any) -> str:
    """Go's strings.Title: the first letter of each word upper-cased, the others left as they are
    (Python's str.title lower-cases them); a word begins after a space or an ASCII character that
    is no letter, digit or underscore."""
    out, prev = [], " "
    for ch in go_print(s):
        out.append(ch.upper() if _separates(prev) else ch)
        prev = ch
    return "".join(out)


def _separates(ch: str) -> bool:
    return not (ch.isalnum() or ch == "_") if ch.isascii() else ch.isspace()


def _pad(s: Any, left: int, right: int) -> str:
    """docker's padWithSpace: spaces around a value that is not empty."""
    text = go_print(s)
    return " " * left + text + " " * right if text else text


def _truncate(s: Any, n: int) -> str:
    text = go_print(s)
    return text[:n] if len(text) > n else text


FUNCS: dict[str, Callable[..., Any]] = {
    "index": _index, "len": _len, "slice": _slice, "not": lambda v: not truth(v),
    "and": lambda *a: None, "or": lambda *a: None,  # evaluated lazily in _command
    "eq": _eq, "ne": lambda a, b: _compare("ne", a, b), "lt": lambda a, b: _compare("lt", a, b),
    "le": lambda a, b: _compare("le", a, b), "gt": lambda a, b: _compare("gt", a, b),
    "ge": lambda a, b: _compare("ge", a, b),
    "print": _print, "printf": _printf, "println": lambda *a: " ".join(go_print(x) for x in a) + "\n",
    # docker/cli templates.basicFunctions
    "json": go_json, "join": lambda items, sep: sep.join(go_print(x) for x in items or []),
    "split": lambda s, sep: s.split(sep), "lower": lambda s: go_print(s).lower(),
    "upper": lambda s: go_print(s).upper(), "title": _title, "pad": _pad, "truncate": _truncate,
}


def _call(scope: _Scope, name: str, args: list[Any]) -> Any:
    try:
        return scope.funcs[name](*args)
    except (TypeError, AttributeError, ValueError) as exc:  # arity or argument types, as Go refuses them
        raise TemplateError(f"template: error calling {name}: {exc}") from None
