"""Prompts: Jinja2 files with front matter in a versioned, labelled registry; few-shot, CoT, self-consistency."""

from llmkit.prompts.prompt import Prompt, content_version, parse_prompt
from llmkit.prompts.registry import PromptInfo, PromptRegistry, builtin, split_ref
from llmkit.prompts.template import PromptTemplate

__all__ = [
    "Prompt",
    "PromptInfo",
    "PromptRegistry",
    "PromptTemplate",
    "builtin",
    "content_version",
    "parse_prompt",
    "split_ref",
]
