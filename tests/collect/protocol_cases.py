"""What the protocol intake tests share: catching a BadRequest, and the hypothesis strategy of any JSON value."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from pipelines.collect.intake import BadRequest

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


def failure(call) -> BadRequest:
    """The BadRequest `call()` raises (the test fails if it raises none)."""
    with pytest.raises(BadRequest) as caught:
        call()
    return caught.value
