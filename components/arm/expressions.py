"""The subset of the ARM template expression language that image-template deployments use, evaluated offline.

`[parameters('name')]`, `[variables('v')]`, `[concat(...)]`, `[format('{0}-{1}', ...)]`, `[resourceId(...)]`,
`[subscription().subscriptionId]`, `[resourceGroup().name]` / `.location`, `toLower`/`toUpper`, member access
(`.prop`) and indexing (`[0]`). A tokenizer turns the text between the outer brackets into tokens and a recursive
evaluator walks the grammar

    expression := primary ( '.' IDENT | '[' expression ']' )*
    primary    := STRING | NUMBER | IDENT '(' [ expression ( ',' expression )* ] ')'

Anything else (a function this subset lacks, a parameter with no value) raises `ExpressionError`, which names the
function so the importer can report it at its path. `deployment()`, `reference()` and their kind need a deployment
that does not exist here: they are refused, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

SUBSCRIPTION_PLACEHOLDER = "<subscription-id>"
RESOURCE_GROUP_PLACEHOLDER = "<resource-group>"
LOCATION_PLACEHOLDER = "<location>"

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<number>-?\d+)
  | (?P<ident>[A-Za-z_$][\w$-]*)
  | (?P<punct>[()\[\],.])
""", re.VERBOSE)


class ExpressionError(ValueError):
    """An expression this evaluator cannot evaluate; `function` names the construct (for the report)."""

    def __init__(self, message: str, function: str = "") -> None:
        super().__init__(message)
        self.function = function


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


def is_expression(value: Any) -> bool:
    """`[...]` is an expression; `[[...]` is the escape for a literal string starting with `[`."""
    return isinstance(value, str) and value.startswith("[") and value.endswith("]") and not value.startswith("[[")


def unescape(value: str) -> str:
    """ARM's escape: a string that starts with `[[` stands for the same text with one `[`."""
    return value[1:] if value.startswith("[[") and value.endswith("]") else value


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ExpressionError(f"unexpected {text[pos]!r} at offset {pos} of {text!r}", "syntax")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group()))
        pos = match.end()
    return tokens


@dataclass
class Deployment:
    """What an ARM deployment would supply: parameter values, the variables, and the deployment scope.

    Scope values left as None evaluate to placeholders (`<subscription-id>`), which the importer reports.
    """

    parameters: Mapping[str, Any] = field(default_factory=dict)
    """Values given for the deployment (a parameters file): they win over each definition's defaultValue."""
    definitions: Mapping[str, Any] = field(default_factory=dict)
    """The template's `parameters` section (type, defaultValue, allowedValues)."""
    variables: Mapping[str, Any] = field(default_factory=dict)
    subscription_id: Optional[str] = None
    resource_group: Optional[str] = None
    location: Optional[str] = None
    placeholders_used: set[str] = field(default_factory=set)
    _evaluated_variables: dict[str, Any] = field(default_factory=dict)
    _evaluating: set[str] = field(default_factory=set)

    def scope(self, value: Optional[str], placeholder: str) -> str:
        if value:
            return value
        self.placeholders_used.add(placeholder)
        return placeholder

    def parameter(self, name: str) -> Any:
        key = _key(self.definitions, name)
        if key is None:
            raise ExpressionError(f"parameters({name!r}): the template declares no parameter of that name",
                                  "parameters")
        definition = self.definitions[key] if isinstance(self.definitions[key], Mapping) else {}
        given = _key(self.parameters, name)
        if given is not None:
            value = self.parameters[given]
        elif "defaultValue" in definition:
            value = evaluate_value(definition["defaultValue"], self)
        else:
            raise ExpressionError(f"parameters({name!r}) has no value: no defaultValue and none given "
                                  "(hint: import-arm --parameters FILE)", "parameters")
        allowed = definition.get("allowedValues")
        if isinstance(allowed, list) and value not in allowed:
            raise ExpressionError(f"parameters({name!r}) is {value!r}, not one of its allowedValues {allowed!r}",
                                  "parameters")
        return value

    def variable(self, name: str) -> Any:
        key = _key(self.variables, name)
        if key is None:
            raise ExpressionError(f"variables({name!r}): no variable of that name", "variables")
        if key not in self._evaluated_variables:
            if key in self._evaluating:
                raise ExpressionError(f"variables({name!r}) refers to itself", "variables")
            self._evaluating.add(key)
            try:
                self._evaluated_variables[key] = evaluate_value(self.variables[key], self)
            finally:
                self._evaluating.discard(key)
        return self._evaluated_variables[key]


def _key(mapping: Mapping[str, Any], name: str) -> Optional[str]:
    """ARM names are case-insensitive."""
    return next((k for k in mapping if k.lower() == str(name).lower()), None)


def evaluate_value(value: Any, deployment: Deployment) -> Any:
    """A JSON value with every expression string (and expression key) in it evaluated."""
    if isinstance(value, dict):
        return {evaluate_value(k, deployment): evaluate_value(v, deployment) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate_value(v, deployment) for v in value]
    if is_expression(value):
        return evaluate(value, deployment)
    if isinstance(value, str):
        return unescape(value)
    return value


def evaluate(expression: str, deployment: Deployment) -> Any:
    """The value of one `[...]` expression string."""
    parser = _Parser(tokenize(expression[1:-1]), deployment)
    result = parser.expression()
    parser.expect_end()
    return result


class _Parser:
    """Recursive descent over the tokens, evaluating as it goes (ARM expressions have no side effects)."""

    def __init__(self, tokens: list[Token], deployment: Deployment) -> None:
        self.tokens = tokens
        self.pos = 0
        self.deployment = deployment

    def peek(self) -> Optional[Token]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, text: Optional[str] = None, kind: Optional[str] = None) -> Token:
        token = self.peek()
        if token is None or (text is not None and token.text != text) or (kind is not None and token.kind != kind):
            wanted = repr(text) if text else kind or "more"
            raise ExpressionError(f"expected {wanted}, found {token.text if token else 'the end'!r}", "syntax")
        self.pos += 1
        return token

    def expect_end(self) -> None:
        if (extra := self.peek()) is not None:
            raise ExpressionError(f"unexpected {extra.text!r} after the expression", "syntax")

    def expression(self) -> Any:
        value = self.primary()
        while (token := self.peek()) is not None and token.text in (".", "["):
            self.take()
            if token.text == ".":
                value = _member(value, self.take(kind="ident").text)
            else:
                value = _index(value, self.expression())
                self.take("]")
        return value

    def primary(self) -> Any:
        token = self.take()
        if token.kind == "string":
            return token.text[1:-1].replace("''", "'")
        if token.kind == "number":
            return int(token.text)
        if token.kind != "ident":
            raise ExpressionError(f"unexpected {token.text!r}", "syntax")
        self.take("(")
        args = []
        while (following := self.peek()) is not None and following.text != ")":
            if args:
                self.take(",")
            args.append(self.expression())
        self.take(")")
        return call(token.text, args, self.deployment)


def _member(value: Any, name: str) -> Any:
    if isinstance(value, Mapping):
        key = _key(value, name)
        if key is not None:
            return value[key]
    raise ExpressionError(f"no property {name!r} on {value!r}", "property access")


def _index(value: Any, index: Any) -> Any:
    if isinstance(value, list) and isinstance(index, int) and -len(value) <= index < len(value):
        return value[index]
    if isinstance(value, Mapping) and isinstance(index, str):
        return _member(value, index)
    raise ExpressionError(f"cannot index {value!r} with {index!r}", "index")


def call(name: str, args: list, deployment: Deployment) -> Any:
    function = FUNCTIONS.get(name.lower())
    if function is None:
        raise ExpressionError(f"function {name}() is not supported by import-arm (supported: "
                              f"{', '.join(sorted(FUNCTIONS))})", name)
    return function(deployment, *args)


def _concat(_: Deployment, *args: Any) -> Any:
    if args and all(isinstance(a, list) for a in args):
        return [item for a in args for item in a]
    return "".join(_as_text(a) for a in args)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (str, int)):
        return str(value)
    raise ExpressionError(f"cannot join {value!r} into a string", "concat")


_FORMAT_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?::[^}]*)?\}")


def _format(_: Deployment, template: str, *args: Any) -> str:
    """.NET composite format, as ARM's format(): `{0}`, `{1}`, with `{{`/`}}` for literal braces."""
    def item(match: re.Match) -> str:
        if match.group(1) is None:
            return match.group()[0]
        n = int(match.group(1))
        if n >= len(args):
            raise ExpressionError(f"format({template!r}) refers to argument {n}, but {len(args)} were given", "format")
        return _as_text(args[n])

    return _FORMAT_ITEM.sub(item, str(template))


def _resource_id(deployment: Deployment, *args: Any) -> str:
    """resourceId([subscriptionId], [resourceGroupName], resourceType, name1, [name2], ...)."""
    type_at = next((i for i, a in enumerate(args) if isinstance(a, str) and "/" in a), None)
    if type_at is None or type_at > 2:
        raise ExpressionError(f"resourceId{tuple(args)!r}: no resource type (Namespace/type) among the arguments",
                              "resourceId")
    scope, resource_type, names = list(args[:type_at]), args[type_at], [str(n) for n in args[type_at + 1:]]
    namespace, *types = resource_type.split("/")
    if len(types) != len(names):
        raise ExpressionError(f"resourceId: {resource_type!r} needs {len(types)} name(s), {len(names)} given",
                              "resourceId")
    subscription = scope[0] if len(scope) == 2 else deployment.scope(deployment.subscription_id,
                                                                      SUBSCRIPTION_PLACEHOLDER)
    group = scope[-1] if scope else deployment.scope(deployment.resource_group, RESOURCE_GROUP_PLACEHOLDER)
    path = "/".join(f"{t}/{n}" for t, n in zip(types, names))
    return f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{namespace}/{path}"


def _subscription(deployment: Deployment) -> dict:
    subscription = deployment.scope(deployment.subscription_id, SUBSCRIPTION_PLACEHOLDER)
    return {"id": f"/subscriptions/{subscription}", "subscriptionId": subscription}


def _resource_group(deployment: Deployment) -> dict:
    subscription = deployment.scope(deployment.subscription_id, SUBSCRIPTION_PLACEHOLDER)
    name = deployment.scope(deployment.resource_group, RESOURCE_GROUP_PLACEHOLDER)
    return {"id": f"/subscriptions/{subscription}/resourceGroups/{name}", "name": name,
            "location": deployment.scope(deployment.location, LOCATION_PLACEHOLDER)}


def _text_function(name: str, change: Callable[[str], str]) -> Callable[..., str]:
    def apply(_: Deployment, value: Any) -> str:
        if not isinstance(value, str):
            raise ExpressionError(f"{name}() takes a string, not {value!r}", name)
        return change(value)
    return apply


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "parameters": lambda d, name: d.parameter(name),
    "variables": lambda d, name: d.variable(name),
    "concat": _concat,
    "format": _format,
    "resourceid": _resource_id,
    "subscription": _subscription,
    "resourcegroup": _resource_group,
    "tolower": _text_function("toLower", str.lower),
    "toupper": _text_function("toUpper", str.upper),
}


@dataclass(frozen=True)
class Failure:
    """An expression left unevaluated: where it sits (keys and indexes), its text, and why."""

    loc: tuple
    expression: str
    error: ExpressionError


def evaluate_tree(value: Any, deployment: Deployment, loc: tuple = ()) -> tuple[Any, list[Failure]]:
    """`value` with every expression it can evaluate replaced by its value; the others stay as they were, each
    reported as a `Failure` at its location (so one bad expression never hides the rest)."""
    failures: list[Failure] = []

    def walk(item: Any, at: tuple) -> Any:
        if isinstance(item, dict):
            return {walk(k, (*at, k)) if is_expression(k) else unescape(k) if isinstance(k, str) else k:
                    walk(v, (*at, k)) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v, (*at, i)) for i, v in enumerate(item)]
        if is_expression(item):
            try:
                return evaluate(item, deployment)
            except ExpressionError as exc:
                failures.append(Failure(at, item, exc))
                return item
        return unescape(item) if isinstance(item, str) else item

    return walk(value, loc), failures
