"""The monitor's own JSON writer and signal names (pure)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from runtime.executor.supervise import dumps, signal_name

plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(plain)
def test_dumps_is_json(value: object) -> None:
    assert json.loads(dumps(value)) == value


def test_control_characters_are_escaped() -> None:
    assert dumps({"a": 'q"\\\n'}) == '{"a":"q\\"\\\\\\u000a"}'


def test_signal_names_are_the_signal_modules() -> None:
    import signal

    assert {n: signal_name(n) for n in map(int, signal.Signals)} == {int(s): s.name for s in signal.Signals}
    assert signal_name(40) == "SIG40"  # a real-time signal the enum has no member for
