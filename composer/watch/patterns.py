"""Ignore and include patterns of `develop.watch`, as docker compose matches them (moby's
patternmatcher, the .dockerignore rules): `*` and `?` within one path component, `**` across
components, `!` to take a match back, and a pattern matches a path when it matches the path or
one of its parents. Patterns are made absolute against a root (the trigger's path, or a build
context for .dockerignore), so they match absolute host paths. Pure: no file is read here."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_ESCAPED = frozenset(".+()|{}$")


def clean(path: str) -> str:
    """Go's filepath.Clean: posixpath.normpath, which keeps a leading "//", does not."""
    out = posixpath.normpath(path)
    return "/" + out.lstrip("/") if out.startswith("//") else out


@dataclass(frozen=True, slots=True)
class Pattern:
    """One compiled pattern: *kind* is exact, prefix, suffix or regexp, as patternmatcher picks
    the cheapest test that gives the same answer as its regular expression."""

    text: str
    exclusion: bool
    kind: str
    regexp: re.Pattern[str] | None

    def match(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        assert self.regexp is not None
        return self.regexp.match(path) is not None


def compile_pattern(text: str, exclusion: bool = False) -> Pattern:
    """*text* (cleaned, without its `!`) compiled as patternmatcher's Pattern.compile does it."""
    regex, kind, i, n = "^", "exact", 0, len(text)
    first = True
    while i < n:
        ch = text[i]
        i += 1
        if ch == "*":
            if i < n and text[i] == "*":
                i += 1
                if i < n and text[i] == "/":
                    i += 1
                if i == n:
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        regex, kind = regex + ".*", "regexp"
                else:
                    regex, kind = regex + "(.*/)?", "regexp"
                if first:
                    kind = "suffix"
            else:
                regex, kind = regex + "[^/]*", "regexp"
        elif ch == "?":
            regex, kind = regex + "[^/]", "regexp"
        elif ch in _ESCAPED:
            regex += "\\" + ch
        elif ch == "\\":
            if i < n:
                regex, kind = regex + re.escape(text[i]), "regexp"
                i += 1
            else:
                regex += "\\\\"
        elif ch in "[]":
            regex, kind = regex + ch, "regexp"
        else:
            regex += ch
        first = False
    compiled = None
    if kind == "regexp":
        try:
            compiled = re.compile(regex + "$", re.DOTALL)
        except re.error:
            raise ValueError(f"syntax error in pattern {text!r}") from None  # Go's ErrBadPattern
    return Pattern(text, exclusion, kind, compiled)


class PatternMatcher:
    """Patterns made absolute against *root*, matched as patternmatcher's MatchesOrParentMatches:
    the last pattern that matches the path or a parent decides; `!` patterns take a match back.
    A pattern that is no pattern raises ValueError."""

    def __init__(self, root: str, patterns: Iterable[str]) -> None:
        texts = [p for p in patterns]
        if "*" in texts:  # docker compose keeps only the exclusions then (NewDockerPatternMatcher)
            texts = [p for p in texts if not p or p.startswith("!")]
        self.patterns: list[Pattern] = []
        for raw in texts:
            text = raw.strip()
            if not text:
                continue
            exclusion = text.startswith("!")
            body = clean(text[1:] if exclusion else text)
            if not body.startswith("/"):
                body = clean(posixpath.join(root, body))
            if exclusion and body in ("", "."):
                raise ValueError('illegal exclusion pattern: "!"')
            self.patterns.append(compile_pattern(body, exclusion))

    def matches(self, path: str) -> bool:
        path = clean(path)
        parent = posixpath.dirname(path) or "."
        parents = parent.split("/")
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            found = pattern.match(path)
            if not found and parent != ".":
                found = any(pattern.match("/".join(parents[: i + 1])) for i in range(len(parents)))
            if found:
                matched = not pattern.exclusion
        return matched


def any_matches(matchers: Sequence[PatternMatcher], path: str) -> bool:
    return any(m.matches(path) for m in matchers)


def read_ignore_file(text: str) -> list[str]:
    """The patterns of a .dockerignore, as moby's ignorefile.ReadAll reads them: `#` comments,
    blank lines skipped, each pattern cleaned and a leading `/` dropped."""
    out = []
    for number, line in enumerate(text.splitlines()):
        if number == 0:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        invert = line.startswith("!")
        if invert:
            line = line[1:].strip()
        if line:
            line = clean(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        out.append("!" + line if invert else line)
    return out


# editors' temporary and lock files, never synced (docker compose's EphemeralPathMatcher)
EPHEMERAL: tuple[str, ...] = (
    "**/*___jb_old___", "**/*___jb_tmp___", "**/.idea/**",  # GoLand
    "**/.#*", "**/#*#",  # emacs
    "**/4913", "**/*~", "**/.*.swp", "**/.*.swx", "**/.*.swo", "**/.*.swn",  # vim
    "**/.*.kate-swp",  # kate
    "**/*-go-tmp-umask",  # go's umask probe
)
