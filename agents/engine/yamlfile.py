"""Strict YAML reading that keeps line numbers, so errors can say where the mistake is.

PyYAML silently keeps the last of two equal keys; a rules file with ``threshold`` written twice
would then run with whichever came last, so duplicate keys are refused here. Pydantic reports
errors by location (``('rules', 3, 'threshold')``); :func:`line_of` maps a location back to
the line it came from.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Hashable] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class YamlSyntaxError(ValueError):
    """The text is not valid YAML; ``line`` is 1-based when known."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def read_yaml(path: Path) -> tuple[Any, Node | None]:
    """The document in ``path`` and its node tree (for line numbers).

    Raises:
        YamlSyntaxError: not valid YAML, or a mapping repeats a key.
        OSError: the file cannot be read.
    """
    text = path.read_text(encoding="utf-8")
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlSyntaxError(line, f"{exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(None, str(exc)) from exc
    finally:
        loader.dispose()
    return data, node


def _scalar(node: Node) -> str | None:
    return node.value if isinstance(node, ScalarNode) else None


def line_of(root: Node | None, location: Sequence[int | str]) -> int | None:
    """The 1-based line of the deepest node on ``location`` (pydantic's error location).

    Parts that name no key (a union's tag, a missing field) are skipped, so a missing field is
    reported at the line of the mapping that lacks it.
    """
    node = root
    if node is None:
        return None
    for part in location:
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                if _scalar(key_node) == str(part):
                    node = value_node
                    break
        elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[max(part, 0)]
    return node.start_mark.line + 1
