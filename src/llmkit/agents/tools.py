"""Tools: typed Python functions (or JSON-Schema described callables) the model may call.

A ``Tool`` knows its name, description, JSON Schema and whether it has side effects. ``invoke`` parses
and validates a model's ``ToolCall`` *before* the function runs; a schema-invalid call never reaches
the function, and neither a bad call nor the function's own exception is raised: both come back as a
``ToolResult`` with ``is_error`` set, for the model to read and correct.

    @tool
    def add(a: int, b: int = 0) -> int:
        "Add two integers."
        return a + b

    add.spec.parameters   # {'type': 'object', 'properties': {'a': ..., 'b': ...}, 'required': ['a']}
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, get_type_hints

from llmkit.errors import InputError
from llmkit.types import ToolCall, ToolSpec

#: Longest observation (in characters) a tool's result may put into the prompt; the rest is cut.
MAX_RESULT_CHARS = 8000
#: Longest arguments text accepted from the model.
MAX_ARGUMENT_CHARS = 100_000


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool call produced, as the model will read it."""

    content: str
    is_error: bool = False


class Tool:
    """A callable with a JSON Schema. Build one with ``@tool``, ``Tool.from_function`` or ``Tool.from_schema``."""

    def __init__(
        self,
        name: str,
        description: str,
        parameters: Mapping[str, Any],
        fn: Callable[..., Any],
        validate: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        side_effects: bool = False,
    ) -> None:
        if not name or not all(c.isalnum() or c in "_-" for c in name) or len(name) > 64:
            raise InputError(f"tool name {name!r} must be 1-64 letters, digits, '_' or '-'")
        self.name = name
        self.description = description
        self.parameters = dict(parameters)
        self.fn = fn
        self.validate = validate
        self.side_effects = side_effects

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        side_effects: bool = False,
    ) -> Tool:
        """A tool from a type-hinted function; its docstring's first paragraph is the description."""
        model = _arguments_model(fn)
        schema = model.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)

        def validate(args: dict[str, Any]) -> dict[str, Any]:
            return dict(model.model_validate(args))

        doc = inspect.getdoc(fn) or ""
        desc = description if description is not None else doc.split("\n\n")[0].replace("\n", " ").strip()
        return cls(name or fn.__name__, desc, schema, fn, validate, side_effects=side_effects)

    @classmethod
    def from_schema(
        cls,
        name: str,
        description: str,
        parameters: Mapping[str, Any],
        fn: Callable[..., Any],
        *,
        side_effects: bool = False,
    ) -> Tool:
        """A tool from a JSON Schema and a function taking the arguments as keywords (MCP tools use this)."""
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(dict(parameters))
        except SchemaError as e:
            raise InputError(f"tool {name!r}: its parameters are not a valid JSON Schema: {e.message}") from None
        validator = Draft202012Validator(dict(parameters))

        def validate(args: dict[str, Any]) -> dict[str, Any]:
            errors = sorted(validator.iter_errors(args), key=lambda e: list(e.path))
            if errors:
                raise InputError(
                    "; ".join(f"{'.'.join(map(str, e.path)) or '(arguments)'}: {e.message}" for e in errors)
                )
            return args

        return cls(name, description, parameters, fn, validate, side_effects=side_effects)

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters)

    def check(self, call: ToolCall) -> dict[str, Any]:
        """The validated arguments of ``call``; ``InputError`` saying what is wrong otherwise."""
        args = call.parsed_arguments()
        try:
            return self.validate(args)
        except InputError:
            raise
        except Exception as e:  # pydantic.ValidationError
            raise InputError(f"invalid arguments for {self.name}: {_describe_validation(e)}") from None

    def invoke(self, call: ToolCall) -> ToolResult:
        """Validate, then run; every failure becomes an error result the model can read."""
        if len(call.arguments or "") > MAX_ARGUMENT_CHARS:
            return ToolResult(
                f"error: the arguments for {self.name} are longer than {MAX_ARGUMENT_CHARS} characters", True
            )
        try:
            args = self.check(call)
        except InputError as e:
            return ToolResult(f"error: {e.message}. Call {self.name} again with arguments matching its schema.", True)
        except (RecursionError, ValueError, TypeError) as e:  # e.g. absurdly nested JSON
            return ToolResult(f"error: the arguments for {self.name} could not be read ({type(e).__name__})", True)
        try:
            value = self.fn(**args)
        except (Exception, SystemExit) as e:  # a tool's sys.exit() must not end the agent's process
            return ToolResult(f"error: {self.name} failed: {type(e).__name__}: {e}", True)
        return ToolResult(_truncate(format_value(value)))

    def __call__(self, **kwargs: Any) -> Any:
        """Call the underlying function directly (validated)."""
        return self.fn(**self.validate(kwargs))

    def __repr__(self) -> str:
        return f"Tool({self.name!r}, side_effects={self.side_effects})"


def tool(fn: Callable[..., Any] | None = None, *, name: str | None = None, side_effects: bool = False) -> Any:
    """Decorator: ``@tool`` or ``@tool(side_effects=True)`` turns a typed function into a ``Tool``."""
    if fn is None:
        return lambda f: Tool.from_function(f, name=name, side_effects=side_effects)
    return Tool.from_function(fn, name=name, side_effects=side_effects)


def format_value(value: Any) -> str:
    """How a tool's return value is shown to the model.

    >>> format_value("done"), format_value(3.5), format_value({"a": [1, 2]})
    ('done', '3.5', '{"a": [1, 2]}')
    """
    if isinstance(value, str):
        return value
    if value is None:
        return "(no result)"
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _truncate(text: str, limit: int = MAX_RESULT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... [cut: {len(text) - limit} more characters]"


def _arguments_model(fn: Callable[..., Any]) -> Any:
    """A pydantic model of ``fn``'s keyword-callable parameters (extra keys forbidden)."""
    from pydantic import ConfigDict, create_model

    hints = get_type_hints(fn, include_extras=True)
    fields: dict[str, Any] = {}
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            raise InputError(f"tool {fn.__name__}: parameter {p.name!r} must be passable by keyword")
        annotation = hints.get(p.name, Any)
        fields[p.name] = (annotation, ... if p.default is inspect.Parameter.empty else p.default)
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=False)
    return create_model(f"{fn.__name__}_arguments", __config__=config, **fields)


def _describe_validation(error: Exception) -> str:
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return str(error)
    parts = []
    for e in errors():
        where = ".".join(str(p) for p in e.get("loc", ())) or "(arguments)"
        parts.append(f"{where}: {e.get('msg')}")
    return "; ".join(parts)
