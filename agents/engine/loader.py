"""Loading a rules file strictly: every mistake reported with its file, rule and line.

Like ``promtool check rules``, loading either returns a valid :class:`RuleSet` or raises
:class:`RulesFileError` listing every problem; it never returns half a rule set. Checks beyond
the pydantic models: unique rule ids, every cited source defined, every rule named in a
combination, inhibition or override defined, no combination depending on itself, and a
``threshold`` override only on a rule that has a threshold.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from yaml.nodes import Node

from agents.engine.errors import Problem, RulesFileError
from agents.engine.overrides import apply_override
from agents.engine.rules import RULE_KINDS, CombinationRule, RuleSet
from agents.engine.yamlfile import YamlSyntaxError, line_of, read_yaml

#: The default rules file, in the repository next to the package.
DEFAULT_RULES_FILE = Path(__file__).resolve().parents[2] / "deploy" / "rules" / "default.rules.yaml"

Location = Sequence[int | str]


def _rule_id_at(data: Any, location: Location) -> str | None:
    if len(location) >= 2 and location[0] == "rules" and isinstance(location[1], int):
        rules = data.get("rules") if isinstance(data, dict) else None
        if isinstance(rules, list) and 0 <= location[1] < len(rules):
            rule = rules[location[1]]
            if isinstance(rule, dict) and isinstance(rule.get("id"), str):
                return str(rule["id"])
    return None


def _dotted(location: Location) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _problem(data: Any, node: Node | None, location: Location, message: str) -> Problem:
    return Problem(
        line=line_of(node, location),
        message=message,
        rule_id=_rule_id_at(data, location),
        location=_dotted(location),
    )


def _validation_problems(data: Any, node: Node | None, error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        location = _without_union_tags(item["loc"])
        problems.append(_problem(data, node, location, item["msg"]))
    return problems


_RULE_TAGS = frozenset(RULE_KINDS)
_PREDICATE_TAGS = frozenset({"rule", "vital", "consciousness", "peak", "count", "any", "all"})


def _without_union_tags(location: Sequence[int | str]) -> list[int | str]:
    """Drop the tags pydantic inserts after a discriminated union's position.

    A rule's tag (its kind) follows ``rules[i]``; a predicate's tag follows each index in an
    ``all_of``/``any_of`` list. Tags are not YAML keys and would send :func:`line_of` astray
    ("threshold" is both a kind and a field).
    """
    parts = list(location)
    kept: list[int | str] = []
    index = 0
    while index < len(parts):
        part = parts[index]
        kept.append(part)
        index += 1
        if isinstance(part, int) and len(kept) >= 2 and index < len(parts):
            container, tag = kept[-2], parts[index]
            if (container == "rules" and len(kept) == 2 and tag in _RULE_TAGS) or (
                container in ("all_of", "any_of") and tag in _PREDICATE_TAGS
            ):
                index += 1
    return kept


def _reference_problems(rules: RuleSet, data: Any, node: Node | None) -> Iterable[Problem]:
    ids: dict[str, int] = {}
    for index, rule in enumerate(rules.rules):
        if rule.id in ids:
            yield _problem(
                data,
                node,
                ("rules", index, "id"),
                f"duplicate rule id (also rules[{ids[rule.id]}])",
            )
        ids.setdefault(rule.id, index)
    cited: list[tuple[Location, list[str]]] = [
        (("phase", "source"), rules.phase.source),
        (("news2", "source"), rules.news2.source),
        (("cadence", "source"), rules.cadence.source),
        (("escalation", "source"), rules.escalation.source),
    ]
    if rules.quiet_hours is not None:
        cited.append((("quiet_hours", "source"), rules.quiet_hours.source))
    cited += [(("rules", i, "source"), rule.source) for i, rule in enumerate(rules.rules)]
    for location, keys in cited:
        for position, key in enumerate(keys):
            if key not in rules.sources:
                yield _problem(
                    data, node, (*location, position), f"source {key!r} is not in sources"
                )
    for index, rule in enumerate(rules.rules):
        for position, other in enumerate(rule.inhibited_by):
            if other not in ids:
                yield _problem(
                    data,
                    node,
                    ("rules", index, "inhibited_by", position),
                    f"inhibited_by names undefined rule {other!r}",
                )
            elif other == rule.id:
                yield _problem(
                    data, node, ("rules", index, "inhibited_by", position), "inhibits itself"
                )
        if isinstance(rule, CombinationRule):
            for other in rule.referenced_rules():
                if other not in ids:
                    yield _problem(
                        data, node, ("rules", index, "all_of"), f"names undefined rule {other!r}"
                    )
    yield from _override_problems(rules, data, node, ids)


def _override_problems(
    rules: RuleSet, data: Any, node: Node | None, ids: dict[str, int]
) -> Iterable[Problem]:
    scopes: list[tuple[str, str, dict[str, Any]]] = [
        ("wards", name, table) for name, table in rules.overrides.wards.items()
    ]
    scopes += [("risk_tiers", name, table) for name, table in rules.overrides.risk_tiers.items()]
    for scope, name, table in scopes:
        for rule_id, override in table.items():
            location = ("overrides", scope, name, rule_id)
            if rule_id not in ids:
                yield _problem(data, node, location, f"override of undefined rule {rule_id!r}")
                continue
            try:
                apply_override(rules.rules[ids[rule_id]], override)
            except ValueError as exc:
                yield _problem(data, node, location, str(exc))


def _cycle_problems(rules: RuleSet, data: Any, node: Node | None) -> Iterable[Problem]:
    combos = {rule.id: rule for rule in rules.rules if isinstance(rule, CombinationRule)}
    for index, rule in enumerate(rules.rules):
        if not isinstance(rule, CombinationRule):
            continue
        seen: set[str] = set()
        stack = list(rule.referenced_rules())
        while stack:
            current = stack.pop()
            if current == rule.id:
                yield _problem(data, node, ("rules", index), "combination depends on itself")
                break
            if current in combos and current not in seen:
                seen.add(current)
                stack.extend(combos[current].referenced_rules())


def _timezone_problems(rules: RuleSet, data: Any, node: Node | None) -> Iterable[Problem]:
    if rules.quiet_hours is None:
        return
    try:
        ZoneInfo(rules.quiet_hours.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        yield _problem(
            data,
            node,
            ("quiet_hours", "timezone"),
            f"unknown time zone {rules.quiet_hours.timezone!r}",
        )


def parse_rules(data: Any, node: Node | None, path: Path | str) -> RuleSet:
    """Validate an already-read document as a rules file.

    Raises:
        RulesFileError: every problem found, each with its line.
    """
    try:
        rules = RuleSet.model_validate(data)
    except ValidationError as exc:
        raise RulesFileError(path, _validation_problems(data, node, exc)) from None
    problems = [
        *_reference_problems(rules, data, node),
        *_cycle_problems(rules, data, node),
        *_timezone_problems(rules, data, node),
    ]
    if problems:
        raise RulesFileError(path, problems)
    return rules


def load_rules(path: Path | str) -> RuleSet:
    """Read and validate a rules file.

    Raises:
        RulesFileError: the file cannot be read, is not YAML, or is not a valid rules file;
            the message names the file, the line and the rule.
    """
    path = Path(path)
    try:
        data, node = read_yaml(path)
    except YamlSyntaxError as exc:
        raise RulesFileError(path, [Problem(exc.line, f"not valid YAML: {exc.message}")]) from None
    except OSError as exc:
        raise RulesFileError(path, [Problem(None, f"cannot read: {exc.strerror}")]) from None
    if not isinstance(data, dict):
        raise RulesFileError(path, [Problem(1, "a rules file is a YAML mapping")])
    return parse_rules(data, node, path)


@lru_cache(maxsize=1)
def default_rules() -> RuleSet:
    """The default rules file, loaded once."""
    return load_rules(DEFAULT_RULES_FILE)
