"""llmkit's exceptions: one small tree, so callers can catch at the level they care about.

    LlmkitError
    ├── ConfigError              bad llmkit.toml, LLMKIT_* variable or flag
    ├── MissingExtra             an optional dependency is not installed (says which extra)
    ├── NotFound                 a model, collection, document or trace that does not exist
    ├── InputError               bad input from the user (empty query, malformed filter ...)
    │   └── LoaderError          a file that cannot be read or parsed
    ├── ModelError               anything a model backend reports
    │   ├── ContextLengthExceeded   the prompt cannot fit the model's context window
    │   ├── BackendUnavailable      the backend cannot be reached or loaded
    │   └── RateLimited             the backend asked us to slow down (retry_after seconds)
    ├── IntegrityError           a downloaded file or stored index failed its check
    └── StoreError               the document store failed (locked, corrupt, schema too new)
        └── StoreUnavailable     the store's server cannot be reached or dropped the connection: retry

Backends translate native errors into these; only the edges (CLI, HTTP) turn them into exit
codes and statuses.
"""

from __future__ import annotations


class LlmkitError(Exception):
    """Base of every error llmkit raises on purpose."""

    #: Exit code the CLI uses for this kind of error.
    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class ConfigError(LlmkitError):
    exit_code = 78  # EX_CONFIG


class MissingExtra(LlmkitError):
    exit_code = 69  # EX_UNAVAILABLE

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"this feature needs the optional package {package!r}",
            hint=f"pip install 'llmkit[{extra}]'",
        )
        self.package = package
        self.extra = extra


class NotFound(LlmkitError):
    exit_code = 66  # EX_NOINPUT


class InputError(LlmkitError):
    exit_code = 65  # EX_DATAERR


class LoaderError(InputError):
    """A file that cannot be loaded; ``source`` names it."""

    def __init__(self, source: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{source}: {message}", hint=hint)
        self.source = source


class ModelError(LlmkitError):
    exit_code = 70  # EX_SOFTWARE


class ContextLengthExceeded(ModelError):
    def __init__(self, needed: int, available: int, *, hint: str | None = None) -> None:
        super().__init__(
            f"the prompt needs {needed} tokens but the model's context window allows {available}",
            hint=hint or "shorten the input, lower max_tokens or retrieval k, or use a model with a larger context",
        )
        self.needed = needed
        self.available = available


class BackendUnavailable(ModelError):
    exit_code = 69


class RateLimited(ModelError):
    exit_code = 75  # EX_TEMPFAIL

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, hint="retry later" if retry_after is None else f"retry in {retry_after:.0f}s")
        self.retry_after = retry_after


class IntegrityError(LlmkitError):
    exit_code = 65


class StoreError(LlmkitError):
    exit_code = 74  # EX_IOERR


class StoreUnavailable(StoreError):
    """The store's server could not be reached, restarted or aborted the call; retrying may succeed."""

    exit_code = 75  # EX_TEMPFAIL
