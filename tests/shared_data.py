"""Where the public data sets are: ../shared/data beside the checkout (as in CI); LLMKIT_SHARED_DATA moves it."""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DATA = Path(os.environ.get("LLMKIT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def shared_data_missing(path: Path) -> bool:
    """For ``skipif``: missing data is a skip on a laptop but a failure in CI, where it must be there."""
    return not path.exists() and not os.environ.get("CI")
