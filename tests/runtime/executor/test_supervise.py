"""The monitor's own JSON writer (pure)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from runtime.executor.supervise import dumps

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
