"""Strict YAML for configuration files, with the line of every value kept for error messages.

Hand-written on PyYAML because three things a routing file needs are missing from
``yaml.safe_load``: a duplicate key is an error (PyYAML keeps the last one silently, so a
second ``ward-3:`` would quietly re-route a ward); ``19:00`` stays a string (YAML 1.1 reads
it as the base-60 number 1140); and the node tree is kept, so an error found later by pydantic
can name the line and column of the value at fault.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from agents.pager.errors import Problem

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"

#: YAML 1.1's int and float patterns without the base-60 forms.
_INT = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+)$""",
    re.X,
)
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without base-60 numbers and with duplicate keys refused."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_INT_TAG, _FLOAT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(_INT_TAG, _INT, list("-+0123456789"))
_StrictLoader.add_implicit_resolver(_FLOAT_TAG, _FLOAT, list("-+0123456789."))


@dataclass(frozen=True)
class YamlDocument:
    """A parsed document and its node tree."""

    data: Any
    root: Node | None

    def locate(self, path: Sequence[str | int]) -> tuple[int, int] | None:
        """1-based line and column of the deepest key or item along ``path`` (None if empty)."""
        node = self.root
        if node is None:
            return None
        found = node.start_mark
        for part in path:
            child = _child(node, part)
            if child is None:
                break
            node, mark = child
            found = mark
        return found.line + 1, found.column + 1


def _child(node: Node, part: str | int) -> tuple[Node, yaml.Mark] | None:
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == str(part):
                # Point at the key: an unknown key is the error itself, and a bad value
                # usually sits on its key's line.
                return value_node, key_node.start_mark
        return None
    if isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        value = node.value[part]
        return value, value.start_mark
    return None


class YamlSyntaxError(ValueError):
    """The text is not well-formed YAML (or repeats a key); ``problem`` says where."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def parse(text: str) -> YamlDocument:
    """Parse one YAML document strictly.

    Raises:
        YamlSyntaxError: malformed YAML, a duplicate key, or more than one document.
    """
    try:
        root = yaml.compose(text, Loader=_StrictLoader)
        loader = _StrictLoader(text)
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
        if mark is None:
            raise YamlSyntaxError(Problem("", message)) from exc
        raise YamlSyntaxError(
            Problem("", message, line=mark.line + 1, column=mark.column + 1)
        ) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(Problem("", str(exc))) from exc
    return YamlDocument(data=data, root=root)
