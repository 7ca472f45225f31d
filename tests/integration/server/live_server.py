"""The live server handle used by the server's integration tests (a module with a unique name, not conftest)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[3] / "examples" / "demo" / "docs"
MODEL = "smollm2-135m-instruct"


@dataclass
class Live:
    url: str
    project: Path
    keys: dict[str, str]  # role -> secret

    def client(self, role: str = "admin", **kwargs: object) -> object:
        """The official ``openai`` client pointed at the server with one of the test keys."""
        from openai import OpenAI

        key = kwargs.pop("api_key", None) or self.keys[role]
        return OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, **kwargs)  # type: ignore[arg-type]

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}
