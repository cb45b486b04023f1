"""YAML loading that remembers where things are, so every error can name a line.

Mappings become `LDict` and sequences `LList`; both know their own line and the line of each key or item.
Duplicate keys are an error (PyYAML would silently keep the last one).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, SequenceNode

from .inputfile import shown


class LDict(dict[Any, Any]):
    line: int = 0
    lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


class LList(list[Any]):
    line: int = 0
    lines: list[int]

    def line_of(self, index: int) -> int:
        return self.lines[index] if index < len(self.lines) else self.line


class DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: object, line: int) -> None:
        super().__init__(f"duplicate key {shown(key)}")
        self.key = key
        self.line = line


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: Node) -> LDict:
    if not isinstance(node, MappingNode):  # pragma: no cover - PyYAML only routes mappings here
        raise ConstructorError(None, None, "expected a mapping", node.start_mark)
    loader.flatten_mapping(node)
    result = LDict()
    result.line = node.start_mark.line + 1
    result.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError as exc:
            raise ConstructorError(None, None, "unhashable key", key_node.start_mark) from exc
        if key in result:
            raise DuplicateKeyError(key, key_node.start_mark.line + 1)
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: Node) -> LList:
    if not isinstance(node, SequenceNode):  # pragma: no cover
        raise ConstructorError(None, None, "expected a sequence", node.start_mark)
    result = LList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
# Dates stay text: the rule set validates them itself and `YYYY-MM` must not become something else.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class YamlSyntaxError(Exception):
    """A YAML text that does not parse; `line` is 1-based."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


MAX_DEPTH = 64  # the rule set nests 5 deep
MAX_NODES = 200_000  # nodes after expanding aliases; the bundled rules have about 4,000


def _check_graph(root: Node) -> None:
    """Bound what aliases can expand to and how deep the document nests, before anything is constructed.

    PyYAML shares an aliased node, but every reader that walks the result (validation, error messages) walks
    the expansion: nine nested aliases of nine make a billion nodes from 500 bytes. Sizes are counted once per
    distinct node, so the check costs as much as the document has nodes, not as much as it expands to.
    """
    sizes: dict[int, int] = {}
    stack: list[tuple[Node, int, bool]] = [(root, 1, False)]
    open_nodes: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        if done:
            open_nodes.discard(key)
            size = 1 + sum(sizes[id(c)] for c in children)
            if size > MAX_NODES:
                raise YamlSyntaxError(node.start_mark.line + 1, f"aliases expand to more than {MAX_NODES:,} nodes")
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise YamlSyntaxError(node.start_mark.line + 1, "an alias refers to the node that contains it")
        if depth > MAX_DEPTH:
            raise YamlSyntaxError(node.start_mark.line + 1, f"nested more than {MAX_DEPTH} levels deep")
        open_nodes.add(key)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)


def load_located(text: str) -> Any:
    """Parse YAML text into LDict/LList/scalars; raise YamlSyntaxError with a line number."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_graph(node)
        return loader.construct_document(node)
    except DuplicateKeyError as exc:
        raise YamlSyntaxError(exc.line, f"duplicate key {shown(exc.key)}") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise YamlSyntaxError(line, (exc.problem or exc.context or "invalid YAML").strip()) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(0, str(exc).splitlines()[0]) from exc
    except RecursionError:
        raise YamlSyntaxError(1, "nested too deeply to read") from None
    finally:
        loader.dispose()
