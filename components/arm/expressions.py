"""The ARM template expression language, evaluated offline as far as a template alone allows.

A tokenizer turns the text between the outer brackets into tokens, a recursive-descent parser builds a small tree

    expression := primary ( '.' IDENT | '[' expression ']' )*
    primary    := STRING | NUMBER | IDENT '(' [ expression ( ',' expression )* ] ')'

and an evaluator walks it. What a template alone determines is computed as ARM does: parameters (a parameters
file's values, else `defaultValue`; a `nullable` parameter with neither is null), variables (their `copy` loops
too), string, array, object, logical, comparison and CIDR functions, `uniqueString` and `guid` (ARM's own algorithms),
the resource id functions, lambdas (`map`, `filter`, `reduce`, ...), property `copy` loops with `copyIndex` (in a
resource loop, the index the importer gives each copy), the date functions (`utcNow()` only in a parameter's
default, where it is a fixed, stated time), the template's user-defined functions, and the scope functions from the
values given (`subscription()`, `resourceGroup()`). `if`, `and`, `or` and `coalesce` evaluate only the arguments they
need, as ARM does, so a branch not taken never fails the import.

What only a deployment knows (`reference`, `list*`, `utcNow` outside a default, `newGuid`, `deployment()`,
`environment()`, a scope value not given) becomes an `Unknown`: a string holding a named placeholder
(`<reference('msi').principalId>`, `<subscription-id>`). Unknowns flow through text functions (concat, format,
resourceId, split where no delimiter can cut one) and through functions that only look at a value's shape (a
shallowMerge of objects holding one stays an object), and turn any other function that meets one into a placeholder
named after the call, so a notice can name every one; nothing is guessed. Only
what a template cannot mean (a function that does not exist, a parameter with no value, a type error) raises
`ExpressionError`, naming the function so the importer can report it at its path.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Union

SUBSCRIPTION_PLACEHOLDER = "<subscription-id>"
RESOURCE_GROUP_PLACEHOLDER = "<resource-group>"
LOCATION_PLACEHOLDER = "<location>"
TENANT_PLACEHOLDER = "<tenant-id>"

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


class Unknown(str):
    """A string holding at least one placeholder for a value only a deployment knows. Its text is what the imported
    config carries (`<reference('msi').principalId>`, `/subscriptions/<subscription-id>`); each placeholder in it is
    recorded in `Deployment.placeholders_used`, so the importer reports them by path."""


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

    Scope values left as None evaluate to placeholders (`<subscription-id>`), which the importer reports. A nested
    deployment with inner scope is a Deployment of its own whose given `parameters` are expressions of `outer`.
    """

    parameters: Mapping[str, Any] = field(default_factory=dict)
    """Values given for the deployment (a parameters file): they win over each definition's defaultValue."""
    definitions: Mapping[str, Any] = field(default_factory=dict)
    """The template's `parameters` section (type, defaultValue, allowedValues, nullable)."""
    variables: Mapping[str, Any] = field(default_factory=dict)
    subscription_id: Optional[str] = None
    resource_group: Optional[str] = None
    location: Optional[str] = None
    outer: Optional["Deployment"] = None
    """For a nested deployment's own scope: the deployment its given parameter values are evaluated in."""
    given_copies: Mapping[str, int] = field(default_factory=dict)
    """The copy indexes the given parameter values see (a nested deployment that is one copy of a resource loop)."""
    where: str = ""
    """Where this deployment's template sits in the document (`resources.x.properties.template`; '' for the top)."""
    functions: Any = ()
    """The template's `functions` (user-defined functions: a list of `{namespace, members}`)."""
    placeholders_used: set[str] = field(default_factory=set)
    notes: dict[str, str] = field(default_factory=dict)
    """Values import-arm chose where a deployment would (utcNow() in a parameter's default), by template path: what
    was chosen and how to choose otherwise, for the importer's notices."""
    _defaulting: list[str] = field(default_factory=list)
    _evaluated_variables: dict[str, Any] = field(default_factory=dict)
    _evaluating: set[str] = field(default_factory=set)
    _evaluated_parameters: dict[str, Any] = field(default_factory=dict)

    def scope(self, value: Optional[str], placeholder: str) -> str:
        if value:
            return value
        return self.unknown(placeholder)

    def unknown(self, placeholder: str, text: Optional[str] = None) -> Unknown:
        """An Unknown whose text is `text` (default: the placeholder itself), the placeholder recorded."""
        self.root().placeholders_used.add(placeholder)
        return Unknown(placeholder if text is None else text)

    def note(self, path: str, message: str) -> None:
        self.root().notes.setdefault(path, message)

    def root(self) -> "Deployment":
        return self.outer.root() if self.outer is not None else self

    def parameter(self, name: str) -> Any:
        key = _key(self.definitions, name)
        if key is None:
            raise ExpressionError(f"parameters({name!r}): the template declares no parameter of that name",
                                  "parameters")
        if key in self._evaluated_parameters:
            return self._evaluated_parameters[key]
        definition = self.definitions[key] if isinstance(self.definitions[key], Mapping) else {}
        given = _key(self.parameters, name)
        if given is not None:
            value = self.parameters[given]
            if self.outer is not None:
                value = _given_value(value, self.outer, name, dict(self.given_copies))
        elif "defaultValue" in definition:
            self._defaulting.append(key)
            try:
                value = evaluate_value(definition["defaultValue"], self)
            finally:
                self._defaulting.pop()
        elif definition.get("nullable") is True:
            value = None
        else:
            raise ExpressionError(f"parameters({name!r}) has no value: no defaultValue and none given "
                                  "(hint: import-arm --parameters FILE)", "parameters")
        allowed = definition.get("allowedValues")
        if isinstance(allowed, list) and value is not None and not isinstance(value, Unknown) \
                and value not in allowed and not (isinstance(value, list) and all(v in allowed for v in value)):
            raise ExpressionError(f"parameters({name!r}) is {value!r}, not one of its allowedValues {allowed!r}",
                                  "parameters")
        self._evaluated_parameters[key] = value
        return value

    def variable(self, name: str) -> Any:
        key = _key(self.variables, name)
        loop = None
        if key is None:
            loop = next((c for c in self.variables.get("copy") or [] if isinstance(c, Mapping)
                         and str(c.get("name", "")).lower() == str(name).lower()), None) \
                if isinstance(self.variables.get("copy"), list) else None
            if loop is None:
                raise ExpressionError(f"variables({name!r}): no variable of that name", "variables")
            key = str(loop.get("name"))
        if key not in self._evaluated_variables:
            if key in self._evaluating:
                raise ExpressionError(f"variables({name!r}) refers to itself", "variables")
            self._evaluating.add(key)
            try:
                self._evaluated_variables[key] = (_copy_loop(loop, self, {}) if loop is not None
                                                  else evaluate_value(self.variables[key], self))
            finally:
                self._evaluating.discard(key)
        return self._evaluated_variables[key]


def _given_value(value: Any, outer: Deployment, name: str, copies: Optional[dict] = None) -> Any:
    """A nested deployment's parameter value (`{"value": ...}`), evaluated in the deployment that passes it. The
    entry may itself be an expression that yields `{"value": ...}` (what Bicep compiles an optional module parameter
    to: `[if(cond, createObject('value', x), createObject('value', null()))]`)."""
    if is_expression(value):
        value = evaluate(value, outer, copies)
        if isinstance(value, Mapping) and "value" in value:
            return value["value"]
    if isinstance(value, Mapping) and "value" in value:
        return evaluate_value(value["value"], outer, copies)
    if isinstance(value, Mapping) and "reference" in value:
        return outer.unknown(f"<keyvault-secret:{name}>")
    return evaluate_value(value, outer, copies)


def _key(mapping: Mapping[str, Any], name: Any) -> Optional[str]:
    """ARM names are case-insensitive."""
    return next((k for k in mapping if isinstance(k, str) and k.lower() == str(name).lower()), None)


def evaluate_value(value: Any, deployment: Deployment, copies: Optional[dict] = None) -> Any:
    """A JSON value with every expression string (and expression key) in it evaluated; property `copy` loops
    expanded."""
    copies = copies or {}
    if isinstance(value, dict):
        out = {evaluate_value(k, deployment, copies): evaluate_value(v, deployment, copies)
               for k, v in value.items() if not (k == "copy" and isinstance(v, list))}
        if isinstance(value.get("copy"), list):
            for loop in value["copy"]:
                if isinstance(loop, Mapping) and "name" in loop:
                    out[str(loop["name"])] = _copy_loop(loop, deployment, copies)
        return out
    if isinstance(value, list):
        return [evaluate_value(v, deployment, copies) for v in value]
    if is_expression(value):
        return evaluate(value, deployment, copies)
    if isinstance(value, str):
        return unescape(value)
    return value


def _copy_loop(loop: Mapping, deployment: Deployment, copies: dict) -> list:
    """A property (or variable) `copy` loop: `input` evaluated for each index of `count`, under the loop's name."""
    count = evaluate_value(loop.get("count"), deployment, copies)
    if isinstance(count, Unknown):
        raise ExpressionError(f"copy loop {loop.get('name')!r}: its count {count!r} is known only at deployment",
                              "copy")
    if not isinstance(count, int) or isinstance(count, bool):
        raise ExpressionError(f"copy loop {loop.get('name')!r}: count {count!r} is not a number", "copy")
    name = str(loop.get("name"))
    return [evaluate_value(loop.get("input"), deployment, {**copies, name.lower(): i, "": i}) for i in range(count)]


def evaluate(expression: str, deployment: Deployment, copies: Optional[dict] = None) -> Any:
    """The value of one `[...]` expression string."""
    parser = _Parser(tokenize(expression[1:-1]))
    node = parser.expression()
    parser.expect_end()
    return _Evaluator(deployment, copies or {}).eval(node, {})


# The parse tree: ("str", text) | ("num", n) | ("call", name, [args]) | ("member", node, name) | ("index", node, node)
Node = tuple


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

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

    def expression(self) -> Node:
        node = self.primary()
        while (token := self.peek()) is not None and token.text in (".", "["):
            self.take()
            if token.text == ".":
                node = ("member", node, self.take(kind="ident").text)
            else:
                node = ("index", node, self.expression())
                self.take("]")
        return node

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "string":
            return ("str", token.text[1:-1].replace("''", "'"))
        if token.kind == "number":
            return ("num", int(token.text))
        if token.kind != "ident":
            raise ExpressionError(f"unexpected {token.text!r}", "syntax")
        name = token.text
        if self._user_function_ahead():  # `namespace.name(...)`: a function of the template's `functions`
            self.take(".")
            name = f"{name}.{self.take(kind='ident').text}"
        self.take("(")
        args: list[Node] = []
        while (following := self.peek()) is not None and following.text != ")":
            if args:
                self.take(",")
            args.append(self.expression())
        self.take(")")
        return ("call", name, args)

    def _user_function_ahead(self) -> bool:
        ahead = self.tokens[self.pos:self.pos + 3]
        return len(ahead) == 3 and ahead[0].text == "." and ahead[1].kind == "ident" and ahead[2].text == "("


def source(node: Node) -> str:
    """The expression text of a node (placeholders are named after what they stand for)."""
    kind = node[0]
    if kind == "str":
        return "'" + node[1].replace("'", "''") + "'"
    if kind == "num":
        return str(node[1])
    if kind == "member":
        return f"{source(node[1])}.{node[2]}"
    if kind == "index":
        return f"{source(node[1])}[{source(node[2])}]"
    return f"{node[1]}({', '.join(source(a) for a in node[2])})"


@dataclass(frozen=True)
class Lambda:
    names: tuple[str, ...]
    body: Node
    bound: dict


# Functions whose value only a deployment has: each call becomes a placeholder named after it.
_RUNTIME = {"reference", "references", "utcnow", "newguid", "deployment", "environment", "managementgroup", "tenant", "pickzones",
            "providers", "deployer", "managementgroupresourceid", "loadtextcontent", "loadfileasbase64"}
# Functions that carry an Unknown through (the placeholder text stays readable inside the result).
_CARRIES_UNKNOWN = {"concat", "format", "resourceid", "subscriptionresourceid", "tenantresourceid",
                    "extensionresourceid", "createarray", "createobject", "union", "array", "string", "parameters",
                    "variables"}


class _Evaluator:
    def __init__(self, deployment: Deployment, copies: dict) -> None:
        self.deployment = deployment
        self.copies = copies

    def eval(self, node: Node, scope: dict) -> Any:
        kind = node[0]
        if kind in ("str", "num"):
            return node[1]
        if kind == "member":
            return self._member(self.eval(node[1], scope), node[2], node)
        if kind == "index":
            return self._index(self.eval(node[1], scope), self.eval(node[2], scope), node)
        return self.call(node, scope)

    def _member(self, value: Any, name: str, node: Node) -> Any:
        if isinstance(value, Unknown):
            return self.deployment.unknown(f"<{source(node)}>")
        if isinstance(value, Mapping):
            key = _key(value, name)
            if key is not None:
                return value[key]
        raise ExpressionError(f"no property {name!r} on {value!r}", "property access")

    def _index(self, value: Any, index: Any, node: Node) -> Any:
        if isinstance(value, Unknown) or isinstance(index, Unknown):
            return self.deployment.unknown(f"<{source(node)}>")
        if isinstance(value, list) and isinstance(index, int) and not isinstance(index, bool) \
                and -len(value) <= index < len(value):
            return value[index]
        if isinstance(value, Mapping) and isinstance(index, str):
            return self._member(value, index, node)
        raise ExpressionError(f"cannot index {value!r} with {index!r}", "index")

    def call(self, node: Node, scope: dict) -> Any:
        name, arg_nodes = node[1], node[2]
        lower = name.lower()
        if "." in lower:  # a user-defined function (`namespace.name`) of the template's `functions`
            return self._user_function(name, [self.eval(a, scope) for a in arg_nodes])
        if lower == "utcnow" and self.deployment._defaulting:
            return _utc_now(self, [self.eval(a, scope) for a in arg_nodes])
        if lower in _RUNTIME or lower.startswith("list"):
            return self.deployment.unknown(f"<{source(node)}>")
        lazy = _LAZY.get(lower)
        if lazy is not None:
            return lazy(self, node, arg_nodes, scope)
        function = FUNCTIONS.get(lower)
        if function is None:
            raise ExpressionError(f"function {name}() is not supported by import-arm", name)
        args = [self.eval(a, scope) for a in arg_nodes]
        if lower == "split" and len(args) == 2 and isinstance(args[0], Unknown) and not _holds_unknown(args[1]):
            parts = _split_unknown(self.deployment, args[0], args[1])
            if parts is not None:
                return parts
        if lower in _SHAPE_ONLY:
            if _shape_unknown(lower, args):
                return self.deployment.unknown(f"<{source(node)}>")
            return function(self.deployment, *args)
        if lower not in _CARRIES_UNKNOWN and any(_holds_unknown(a) for a in args):
            return self.deployment.unknown(f"<{source(node)}>")
        result = function(self.deployment, *args)
        if isinstance(result, str) and not isinstance(result, Unknown) and any(_holds_unknown(a) for a in args):
            return Unknown(result)
        return result

    def _user_function(self, name: str, args: list) -> Any:
        """A function of the template's `functions`: its output `value` evaluated with its parameters bound to the
        arguments, and nothing else of the template's (ARM gives a user-defined function no access to the template's
        parameters or variables)."""
        namespace, _, member = name.partition(".")
        definition = None
        for group in self.deployment.functions if isinstance(self.deployment.functions, list) else []:
            if isinstance(group, Mapping) and str(group.get("namespace", "")).lower() == namespace.lower():
                members = group.get("members")
                key = _key(members, member) if isinstance(members, Mapping) else None
                definition = members[key] if key is not None and isinstance(members, Mapping) else None
        if not isinstance(definition, Mapping):
            raise ExpressionError(f"{name}(): the template's functions define no such function", name)
        declared = [p for p in definition.get("parameters") or [] if isinstance(p, Mapping)]
        if len(declared) != len(args):
            raise ExpressionError(f"{name}() takes {len(declared)} argument(s), {len(args)} given", name)
        output = definition.get("output")
        if not isinstance(output, Mapping) or "value" not in output:
            raise ExpressionError(f"{name}(): its definition has no output value", name)
        root = self.deployment.root()
        body = Deployment(parameters={str(p.get("name")): a for p, a in zip(declared, args)},
                          definitions={str(p.get("name")): {k: v for k, v in p.items() if k != "name"}
                                       for p in declared},
                          subscription_id=self.deployment.subscription_id,
                          resource_group=self.deployment.resource_group, location=self.deployment.location,
                          functions=self.deployment.functions, placeholders_used=root.placeholders_used,
                          notes=root.notes)
        return evaluate_value(output["value"], body)

    def apply(self, function: Any, args: list, name: str) -> Any:
        if not isinstance(function, Lambda):
            raise ExpressionError(f"{name}() needs a lambda, not {function!r}", name)
        if len(args) != len(function.names):
            raise ExpressionError(f"{name}(): the lambda takes {len(function.names)} argument(s)", name)
        return self.eval(function.body, {**function.bound, **{n.lower(): a for n, a in zip(function.names, args)}})


# Functions whose result depends only on the shape of their arguments (which keys, how many items), not on the values
# inside: an Unknown nested in an argument is carried into the result, so `shallowMerge()` of objects holding one
# placeholder stays an object (AVM modules build a template's whole `properties` that way). `_shape_unknown` says
# when the shape itself is unknown.
_SHAPE_ONLY = {"shallowmerge", "union", "length", "first", "last", "take", "skip", "tryget", "empty", "array"}


def _shape_unknown(function: str, args: list) -> bool:
    """Whether an Unknown decides the result of a `_SHAPE_ONLY` function: an argument that is one, an item that is one
    where items are merged (`shallowMerge`), or one met on `tryGet`'s path. A key holding one is carried, as
    createObject() carries it (an identity map keyed by `/subscriptions/<subscription-id>/...` ids stays a map)."""
    if any(isinstance(a, Unknown) for a in args):
        return True
    if function == "shallowmerge" and args and isinstance(args[0], list):
        return any(isinstance(i, Unknown) for i in args[0])
    if function == "tryget" and args:
        value = args[0]
        for key in args[1:]:
            if isinstance(value, Unknown) or isinstance(key, Unknown):
                return True
            value = _try_get(None, value, key)
    return False


# utcNow() is allowed only in a parameter's defaultValue, where a deployment gives it the time it starts. import-arm
# gives it this fixed time instead (the Unix epoch, stated in a notice), so that importing the same template twice
# writes the same config and the names built from it (AVM's `<name>-<baseTime>`) are valid.
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
FIXED_UTC_NOW = _EPOCH


def _utc_now(ev: "_Evaluator", args: list) -> Any:
    deployment = ev.deployment
    fmt = args[0] if args else None
    if isinstance(fmt, Unknown):
        return deployment.unknown(f"<utcNow({fmt})>")
    if fmt is not None and not isinstance(fmt, str):
        raise ExpressionError(f"utcNow() takes a format string, not {fmt!r}", "utcNow")
    value = format_datetime(FIXED_UTC_NOW, fmt or "yyyyMMddTHHmmssZ")
    name = deployment._defaulting[-1]
    way = (f"give {name!r} a value with import-arm --parameters to choose another" if deployment.outer is None else
           f"the template that nests this one does not pass {name!r}: edit the values built from it in the stack "
           "config to choose another")
    call = "utcNow(" + ("" if fmt is None else "'" + fmt.replace("'", "''") + "'") + ")"
    deployment.note(_path_in(deployment.where, f"parameters.{name}.defaultValue"),
                    f"{call} is the time a deployment starts; import-arm read it as {value!r} "
                    f"({FIXED_UTC_NOW:%Y-%m-%dT%H:%M:%SZ}, a fixed time, so a re-import writes the same config): {way}")
    return value


def _path_in(prefix: str, path: str) -> str:
    return f"{prefix}.{path}" if prefix else path


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
# .NET's standard date and time format strings, in the invariant culture ARM formats with, as custom formats.
_STANDARD_FORMATS = {
    "d": "MM/dd/yyyy", "D": "dddd, dd MMMM yyyy", "f": "dddd, dd MMMM yyyy HH:mm", "F": "dddd, dd MMMM yyyy HH:mm:ss",
    "g": "MM/dd/yyyy HH:mm", "G": "MM/dd/yyyy HH:mm:ss", "m": "MMMM dd", "M": "MMMM dd",
    "o": "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK", "O": "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
    "r": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'", "R": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
    "s": "yyyy'-'MM'-'dd'T'HH':'mm':'ss", "t": "HH:mm", "T": "HH:mm:ss", "u": "yyyy'-'MM'-'dd HH':'mm':'ss'Z'",
    "U": "dddd, dd MMMM yyyy HH:mm:ss", "y": "yyyy MMMM", "Y": "yyyy MMMM",
}
_CUSTOM_TOKEN = re.compile(r"'[^']*'|\"[^\"]*\"|\\.|%.|d+|f+|F+|h+|H+|K|m+|M+|s+|t+|y+|z+|g+|.", re.DOTALL)


def format_datetime(moment: _dt.datetime, fmt: str, function: str = "utcNow") -> str:
    """`moment` (UTC) formatted as .NET formats a DateTime with a standard or custom format string in the invariant
    culture, as ARM's utcNow(format) and dateTimeAdd(..., format) do."""
    if len(fmt) == 1:
        if fmt not in _STANDARD_FORMATS:
            raise ExpressionError(f"{fmt!r} is not a .NET standard date and time format", function)
        fmt = _STANDARD_FORMATS[fmt]
    out: list[str] = []
    for token in _CUSTOM_TOKEN.findall(fmt):
        text = _datetime_token(moment, token)
        if token[0] == "F" and not text and out and out[-1] == ".":
            out.pop()  # .NET drops the period before an F fraction that is all zeros
        out.append(text)
    return "".join(out)


# A DateTime's JSON form, as ARM writes one without a format (Json.NET's ISO 8601 format).
_JSON_DATETIME = "yyyy'-'MM'-'dd'T'HH':'mm':'ss.FFFFFFFK"
_ISO_DATETIME = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})(?:[T ](\d{2}):?(\d{2})(?::?(\d{2})(?:\.(\d{1,7})\d*)?)?)?"
                           r"\s*(Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)
_ISO_DURATION = re.compile(r"^(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
                           r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$", re.IGNORECASE)


def parse_datetime(text: Any, function: str) -> _dt.datetime:
    """An ISO 8601 timestamp (`2020-04-07 14:53:14Z`, `2020-04-07T14:53:14.5+02:00`, utcNow()'s `20200407T145314Z`)
    as a UTC datetime; no offset means UTC."""
    match = _ISO_DATETIME.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ExpressionError(f"{function}(): {text!r} is not an ISO 8601 date and time", function)
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = _dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                              int((fraction or "0").ljust(7, "0")) // 10, tzinfo=_dt.timezone.utc)
    except ValueError as exc:
        raise ExpressionError(f"{function}(): {text!r} is not a date: {exc}", function) from None
    if zone and zone.upper() != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        moment -= sign * _dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment


def _date_time_add(_: Deployment, base: Any, duration: Any, fmt: Any = None) -> str:
    """dateTimeAdd(base, duration, [format]): ARM counts a year as 365 days and a month as 30 (its documentation's
    remarks); without a format the result is written as a DateTime's JSON form, as the documentation's examples show
    (`dateTimeAdd('2023-01-01 00:00:00Z', 'P1Y')` is `2024-01-01T00:00:00Z`)."""
    moment = parse_datetime(base, "dateTimeAdd")
    match = _ISO_DURATION.match(duration.strip()) if isinstance(duration, str) else None
    if match is None or not any(match.groups()[1:]):
        raise ExpressionError(f"dateTimeAdd(): {duration!r} is not an ISO 8601 duration", "dateTimeAdd")
    negative, years, months, weeks, days, hours, minutes, seconds = match.groups()
    delta = _dt.timedelta(days=int(years or 0) * 365 + int(months or 0) * 30 + int(weeks or 0) * 7 + int(days or 0),
                          hours=int(hours or 0), minutes=int(minutes or 0), seconds=float(seconds or 0))
    if fmt is not None and not isinstance(fmt, str):
        raise ExpressionError(f"dateTimeAdd() takes a format string, not {fmt!r}", "dateTimeAdd")
    return format_datetime(moment - delta if negative else moment + delta, fmt or _JSON_DATETIME, "dateTimeAdd")


def _date_time_from_epoch(_: Deployment, seconds: Any) -> str:
    return format_datetime(_EPOCH + _dt.timedelta(seconds=_int(seconds, "dateTimeFromEpoch")), _JSON_DATETIME)


def _date_time_to_epoch(_: Deployment, text: Any) -> int:
    return int((parse_datetime(text, "dateTimeToEpoch") - _EPOCH).total_seconds())


def _datetime_token(moment: _dt.datetime, token: str) -> str:
    first, n = token[0], len(token)
    if first in "'\"":
        return token[1:-1]
    if first == "\\" and n == 2:
        return token[1]
    if first == "%" and n == 2:
        return _datetime_token(moment, token[1])
    if first == "d":
        return (str(moment.day).zfill(n) if n <= 2 else
                _DAYS[moment.weekday()][:3] if n == 3 else _DAYS[moment.weekday()])
    if first in "fF":
        digits = f"{moment.microsecond:06d}0"[:min(n, 7)]
        return digits.rstrip("0") if first == "F" else digits
    if first == "h":
        return str(moment.hour % 12 or 12).zfill(min(n, 2))
    if first == "H":
        return str(moment.hour).zfill(min(n, 2))
    if first == "K":
        return "Z"
    if first == "m":
        return str(moment.minute).zfill(min(n, 2))
    if first == "M":
        return (str(moment.month).zfill(n) if n <= 2 else
                _MONTHS[moment.month - 1][:3] if n == 3 else _MONTHS[moment.month - 1])
    if first == "s":
        return str(moment.second).zfill(min(n, 2))
    if first == "t":
        return ("AM" if moment.hour < 12 else "PM")[:1 if n == 1 else 2]
    if first == "y":
        return str(moment.year % 100).zfill(n) if n <= 2 else str(moment.year).zfill(n)
    if first == "z":
        return "+0" if n == 1 else "+00" if n == 2 else "+00:00"
    if first == "g":
        return "A.D."
    return token


def _holds_unknown(value: Any) -> bool:
    if isinstance(value, Unknown):
        return True
    if isinstance(value, list):
        return any(_holds_unknown(v) for v in value)
    if isinstance(value, Mapping):
        return any(_holds_unknown(k) or _holds_unknown(v) for k, v in value.items())
    return False


def _truth(ev: _Evaluator, node: Node, value: Any, function: str) -> Union[bool, Unknown]:
    if isinstance(value, Unknown):
        return value
    if not isinstance(value, bool):
        raise ExpressionError(f"{function}() needs a boolean, not {value!r} (in {source(node)})", function)
    return value


def _if(ev: _Evaluator, node: Node, args: list, scope: dict) -> Any:
    if len(args) != 3:
        raise ExpressionError("if() takes a condition and two values", "if")
    condition = _truth(ev, node, ev.eval(args[0], scope), "if")
    if isinstance(condition, Unknown):
        return ev.deployment.unknown(f"<{source(node)}>")
    return ev.eval(args[1] if condition else args[2], scope)


def _and_or(stop: bool) -> Callable[..., Any]:
    def apply(ev: _Evaluator, node: Node, args: list, scope: dict) -> Any:
        unknown = False
        for arg in args:
            value = _truth(ev, node, ev.eval(arg, scope), node[1])
            if isinstance(value, Unknown):
                unknown = True
            elif value is stop:
                return stop
        return ev.deployment.unknown(f"<{source(node)}>") if unknown else not stop
    return apply


def _coalesce(ev: _Evaluator, node: Node, args: list, scope: dict) -> Any:
    for arg in args:
        value = ev.eval(arg, scope)
        if value is not None:
            return value
    return None


def _lambda(ev: _Evaluator, node: Node, args: list, scope: dict) -> Lambda:
    if not args or any(a[0] != "str" for a in args[:-1]):
        raise ExpressionError("lambda() takes the variable names, then the body", "lambda")
    return Lambda(tuple(a[1] for a in args[:-1]), args[-1], dict(scope))


def _lambda_variables(ev: _Evaluator, node: Node, args: list, scope: dict) -> Any:
    name = str(ev.eval(args[0], scope)).lower() if args else ""
    if name not in scope:
        raise ExpressionError(f"lambdaVariables({name!r}): no lambda variable of that name", "lambdaVariables")
    return scope[name]


def _copy_index(ev: _Evaluator, node: Node, args: list, scope: dict) -> Any:
    values = [ev.eval(a, scope) for a in args]
    loop = next((v for v in values if isinstance(v, str)), "")
    offset = next((v for v in values if isinstance(v, int) and not isinstance(v, bool)), 0)
    key = loop.lower()
    if key not in ev.copies:
        raise ExpressionError(f"copyIndex({loop!r}) outside its copy loop", "copyIndex")
    return ev.copies[key] + offset


class _Undecided(Exception):
    """A lambda's answer that decides the result (a filter's test, a sort's order) holds an Unknown."""


def _with_lambda(name: str, run: Callable[[_Evaluator, list, Any], Any]) -> Callable[..., Any]:
    def apply(ev: _Evaluator, node: Node, args: list, scope: dict) -> Any:
        values = [ev.eval(a, scope) for a in args]
        # Items holding an Unknown go through the lambda, which carries it (a map over distributions whose names
        # hold a placeholder is still a list of objects); only an unknown array, or an unknown decision, is unknown.
        if values and isinstance(values[0], Unknown):
            return ev.deployment.unknown(f"<{source(node)}>")
        try:
            return run(ev, values, node)
        except _Undecided:
            return ev.deployment.unknown(f"<{source(node)}>")
    return apply


def _decided(value: Any) -> Any:
    if _holds_unknown(value):
        raise _Undecided()
    return value


def _map(ev: _Evaluator, values: list, node: Node) -> list:
    items, function = _array(values[0], "map"), values[1]
    if isinstance(function, Lambda) and len(function.names) == 2:
        return [ev.apply(function, [v, i], "map") for i, v in enumerate(items)]
    return [ev.apply(function, [v], "map") for v in items]


def _filter(ev: _Evaluator, values: list, node: Node) -> list:
    items, function = _array(values[0], "filter"), values[1]
    if isinstance(function, Lambda) and len(function.names) == 2:
        return [v for i, v in enumerate(items) if _decided(ev.apply(function, [v, i], "filter")) is True]
    return [v for v in items if _decided(ev.apply(function, [v], "filter")) is True]


def _reduce(ev: _Evaluator, values: list, node: Node) -> Any:
    items, accumulated, function = _array(values[0], "reduce"), values[1], values[2]
    for i, item in enumerate(items):
        accumulated = ev.apply(function, [accumulated, item, i][:len(function.names)]
                               if isinstance(function, Lambda) else [accumulated, item], "reduce")
    return accumulated


def _to_object(ev: _Evaluator, values: list, node: Node) -> dict:
    items = _array(values[0], "toObject")
    out = {}
    for item in items:
        key = _decided(ev.apply(values[1], [item], "toObject"))
        out[key] = ev.apply(values[2], [item], "toObject") if len(values) > 2 else item
    return out


def _sort(ev: _Evaluator, values: list, node: Node) -> list:
    import functools

    items = list(_array(values[0], "sort"))
    return sorted(items, key=functools.cmp_to_key(
        lambda a, b: -1 if _decided(ev.apply(values[1], [a, b], "sort")) is True else 1))


def _map_values(ev: _Evaluator, values: list, node: Node) -> dict:
    if not isinstance(values[0], Mapping):
        raise ExpressionError(f"mapValues() takes an object, not {values[0]!r}", "mapValues")
    return {k: ev.apply(values[1], [v], "mapValues") for k, v in values[0].items()}


def _group_by(ev: _Evaluator, values: list, node: Node) -> dict:
    out: dict = {}
    for item in _array(values[0], "groupBy"):
        key = _decided(ev.apply(values[1], [item], "groupBy"))
        out.setdefault(_text(key, "groupBy"), []).append(item)
    return out


_LAZY: dict[str, Callable[..., Any]] = {
    "if": _if,
    "and": _and_or(False),
    "or": _and_or(True),
    "coalesce": _coalesce,
    "lambda": _lambda,
    "lambdavariables": _lambda_variables,
    "copyindex": _copy_index,
    "map": _with_lambda("map", _map),
    "filter": _with_lambda("filter", _filter),
    "reduce": _with_lambda("reduce", _reduce),
    "toobject": _with_lambda("toObject", _to_object),
    "sort": _with_lambda("sort", _sort),
    "mapvalues": _with_lambda("mapValues", _map_values),
    "groupby": _with_lambda("groupBy", _group_by),
}


def _array(value: Any, function: str) -> list:
    if not isinstance(value, list):
        raise ExpressionError(f"{function}() needs an array, not {value!r}", function)
    return value


def _text(value: Any, function: str) -> str:
    if not isinstance(value, str):
        raise ExpressionError(f"{function}() takes a string, not {value!r}", function)
    return value


def _int(value: Any, function: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExpressionError(f"{function}() takes an integer, not {value!r}", function)
    return value


def _concat(_: Deployment, *args: Any) -> Any:
    if args and all(isinstance(a, list) or a is None for a in args):
        return [item for a in args if a is not None for item in a]
    return "".join(_as_text(a, "concat") for a in args)


def _as_text(value: Any, function: str = "concat") -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (str, int)):
        return str(value)
    raise ExpressionError(f"cannot join {value!r} into a string", function)


def _string(_: Deployment, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return _as_text(value, "string")


_FORMAT_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?::[^}]*)?\}")


def _format(_: Deployment, template: str, *args: Any) -> str:
    """.NET composite format, as ARM's format(): `{0}`, `{1}`, with `{{`/`}}` for literal braces."""
    def item(match: re.Match) -> str:
        if match.group(1) is None:
            return match.group()[0]
        n = int(match.group(1))
        if n >= len(args):
            raise ExpressionError(f"format({template!r}) refers to argument {n}, but {len(args)} were given", "format")
        return _as_text(args[n], "format")

    return _FORMAT_ITEM.sub(item, str(template))


def _resource_id(deployment: Deployment, *args: Any) -> str:
    """resourceId([subscriptionId], [resourceGroupName], resourceType, name1, [name2], ...)."""
    type_at = next((i for i, a in enumerate(args) if isinstance(a, str) and "/" in a
                    and not a.startswith("/") and "." in a.split("/")[0]), None)
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
    return _joined(f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{namespace}/{path}", subscription,
                   group)


def _typed_path(function: str, resource_type: Any, names: tuple) -> str:
    if not isinstance(resource_type, str) or "/" not in resource_type:
        raise ExpressionError(f"{function}: no resource type (Namespace/type) among the arguments", function)
    namespace, *types = resource_type.split("/")
    if len(types) != len(names):
        raise ExpressionError(f"{function}: {resource_type!r} needs {len(types)} name(s), {len(names)} given",
                              function)
    return f"providers/{namespace}/" + "/".join(f"{t}/{n}" for t, n in zip(types, names))


def _subscription_resource_id(deployment: Deployment, *args: Any) -> str:
    """subscriptionResourceId([subscriptionId], resourceType, name1, ...)."""
    values = list(args)
    if not values:
        raise ExpressionError("subscriptionResourceId() needs a resource type and names", "subscriptionResourceId")
    explicit = len(values) > 1 and isinstance(values[0], str) and "/" not in values[0]
    subscription = values.pop(0) if explicit else deployment.scope(deployment.subscription_id,
                                                                    SUBSCRIPTION_PLACEHOLDER)
    path = _typed_path("subscriptionResourceId", values[0], tuple(values[1:]))
    return _joined(f"/subscriptions/{subscription}/{path}", subscription)


def _tenant_resource_id(_: Deployment, resource_type: Any, *names: Any) -> str:
    return "/" + _typed_path("tenantResourceId", resource_type, names)


def _extension_resource_id(_: Deployment, scope: Any, resource_type: Any, *names: Any) -> str:
    return f"{str(scope).rstrip('/')}/" + _typed_path("extensionResourceId", resource_type, names)


def _subscription(deployment: Deployment, *args: Any) -> dict:
    subscription = deployment.scope(deployment.subscription_id, SUBSCRIPTION_PLACEHOLDER)
    return {"id": _joined(f"/subscriptions/{subscription}", subscription), "subscriptionId": subscription,
            "tenantId": deployment.unknown(TENANT_PLACEHOLDER),
            "displayName": deployment.unknown("<subscription-name>")}


def _resource_group(deployment: Deployment, *args: Any) -> dict:
    if args:  # resourceGroup() takes no arguments in a template; Bicep's resourceGroup('x') compiles to a scope
        raise ExpressionError("resourceGroup() takes no arguments", "resourceGroup")
    subscription = deployment.scope(deployment.subscription_id, SUBSCRIPTION_PLACEHOLDER)
    name = deployment.scope(deployment.resource_group, RESOURCE_GROUP_PLACEHOLDER)
    return {"id": _joined(f"/subscriptions/{subscription}/resourceGroups/{name}", subscription, name), "name": name,
            "location": deployment.scope(deployment.location, LOCATION_PLACEHOLDER), "type":
            "Microsoft.Resources/resourceGroups", "tags": {}, "properties": {"provisioningState": "Succeeded"}}


def _joined(text: str, *parts: Any) -> str:
    return Unknown(text) if any(isinstance(p, Unknown) for p in parts) else text


def _text_function(name: str, change: Callable[[str], str]) -> Callable[..., str]:
    def apply(_: Deployment, value: Any) -> str:
        return change(_text(value, name))
    return apply


def _length(_: Deployment, value: Any) -> int:
    if isinstance(value, (str, list, dict)):
        return len(value)
    raise ExpressionError(f"length() takes a string, array or object, not {value!r}", "length")


def _first(_: Deployment, value: Any) -> Any:
    if isinstance(value, (str, list)):
        return value[0] if value else ("" if isinstance(value, str) else None)
    raise ExpressionError(f"first() takes a string or array, not {value!r}", "first")


def _last(_: Deployment, value: Any) -> Any:
    if isinstance(value, (str, list)):
        return value[-1] if value else ("" if isinstance(value, str) else None)
    raise ExpressionError(f"last() takes a string or array, not {value!r}", "last")


def _split(_: Deployment, value: Any, delimiter: Any) -> list:
    text = _text(value, "split")
    delimiters = delimiter if isinstance(delimiter, list) else [delimiter]
    if not delimiters or not all(isinstance(d, str) and d for d in delimiters):
        raise ExpressionError(f"split() needs a non-empty delimiter, not {delimiter!r}", "split")
    return re.split("|".join(re.escape(d) for d in delimiters), text)


def _split_unknown(deployment: Deployment, value: Unknown, delimiter: Any) -> Optional[list]:
    """split() of a text holding placeholders, when no placeholder holds a delimiter: the known parts stay known
    (`last(split(<a gallery image id in an unknown subscription>, '/'))` is the image's name), the parts holding a
    placeholder are Unknowns. None when a delimiter could cut a placeholder."""
    parts = _split(deployment, str(value), delimiter)
    delimiters = delimiter if isinstance(delimiter, list) else [delimiter]
    inside = [p for p in deployment.root().placeholders_used if p in value]
    if not inside or any(d in p for d in delimiters for p in inside):
        return None
    return [Unknown(part) if any(p in part for p in inside) else part for part in parts]


def _replace(_: Deployment, value: Any, old: Any, new: Any) -> str:
    return _text(value, "replace").replace(_text(old, "replace"), _text(new, "replace"))


def _substring(_: Deployment, value: Any, start: Any, length: Any = None) -> str:
    text, begin = _text(value, "substring"), _int(start, "substring")
    count = len(text) - begin if length is None else _int(length, "substring")
    if begin < 0 or count < 0 or begin + count > len(text):
        raise ExpressionError(f"substring({text!r}, {begin}, {count}) is outside the string", "substring")
    return text[begin:begin + count]


def _union(_: Deployment, *args: Any) -> Any:
    if args and all(isinstance(a, Mapping) or a is None for a in args):
        out: dict = {}
        for a in args:
            for k, v in (a or {}).items():
                out[k] = v
        return out
    if all(isinstance(a, list) for a in args):
        out_list: list = []
        for a in args:
            out_list += [v for v in a if v not in out_list]
        return out_list
    raise ExpressionError(f"union() takes objects or arrays, not {args!r}", "union")


def _intersection(_: Deployment, *args: Any) -> Any:
    if args and all(isinstance(a, Mapping) for a in args):
        return {k: v for k, v in args[0].items() if all(k in a and a[k] == v for a in args[1:])}
    if args and all(isinstance(a, list) for a in args):
        return [v for v in args[0] if all(v in a for a in args[1:])]
    raise ExpressionError(f"intersection() takes objects or arrays, not {args!r}", "intersection")


def _create_object(_: Deployment, *args: Any) -> dict:
    if len(args) % 2:
        raise ExpressionError("createObject() takes key and value pairs", "createObject")
    return {_text(args[i], "createObject"): args[i + 1] for i in range(0, len(args), 2)}


def _equals(_: Deployment, a: Any, b: Any) -> bool:
    return _same(a, b)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) != isinstance(b, bool):
        return False  # true is not 1
    return a == b  # strings compare case-sensitively, as ARM's equals() does


def _not(_: Deployment, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ExpressionError(f"not() needs a boolean, not {value!r}", "not")
    return not value


def _empty(_: Deployment, value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and len(value) == 0)


def _contains(_: Deployment, container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return _as_text(item, "contains").lower() in container.lower()
    if isinstance(container, list):
        return any(_same(v, item) for v in container)
    if isinstance(container, Mapping):
        return _key(container, item) is not None
    raise ExpressionError(f"contains() takes a string, array or object, not {container!r}", "contains")


def _try_get(_: Optional[Deployment], value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, Mapping) and isinstance(key, str):
            found = _key(value, key)
            value = value[found] if found is not None else None
        elif isinstance(value, list) and isinstance(key, int) and -len(value) <= key < len(value):
            value = value[key]
        else:
            return None
    return value


def _compare(name: str, test: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def apply(_: Deployment, a: Any, b: Any) -> bool:
        if type(a) is not type(b) or not isinstance(a, (int, str)) or isinstance(a, bool):
            raise ExpressionError(f"{name}() compares two integers or two strings, not {a!r} and {b!r}", name)
        return test(a, b)
    return apply


def _arith(name: str, op: Callable[[int, int], int]) -> Callable[..., int]:
    def apply(_: Deployment, a: Any, b: Any) -> int:
        x, y = _int(a, name), _int(b, name)
        if name in ("div", "mod") and y == 0:
            raise ExpressionError(f"{name}() by zero", name)
        return op(x, y)
    return apply


def _json(_: Deployment, text: Any) -> Any:
    try:
        return json.loads(_text(text, "json"))
    except ValueError as exc:
        raise ExpressionError(f"json({text!r}) is not JSON: {exc}", "json") from None


def _bool(_: Deployment, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(value, int):
        return value != 0
    raise ExpressionError(f"bool({value!r}) is not a boolean", "bool")


def _int_function(_: Deployment, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ExpressionError(f"int({value!r}) is not an integer", "int") from None


def _index_of(last: bool) -> Callable[..., int]:
    def apply(_: Deployment, value: Any, item: Any) -> int:
        if isinstance(value, str):
            text, find = value.lower(), _text(item, "indexOf").lower()
            return text.rfind(find) if last else text.find(find)
        positions = [i for i, v in enumerate(_array(value, "indexOf")) if _same(v, item)]
        return (positions[-1] if last else positions[0]) if positions else -1
    return apply


def _join(_: Deployment, items: Any, delimiter: Any) -> str:
    return _text(delimiter, "join").join(_as_text(v, "join") for v in _array(items, "join"))


def _take_skip(skip: bool) -> Callable[..., Any]:
    def apply(_: Deployment, value: Any, count: Any) -> Any:
        n = max(0, _int(count, "skip" if skip else "take"))
        if not isinstance(value, (str, list)):
            raise ExpressionError(f"{'skip' if skip else 'take'}() takes a string or array", "skip" if skip else "take")
        return value[n:] if skip else value[:n]
    return apply


def _range(_: Deployment, start: Any, count: Any) -> list:
    return list(range(_int(start, "range"), _int(start, "range") + _int(count, "range")))


def _pad_left(_: Deployment, value: Any, width: Any, char: Any = " ") -> str:
    return _as_text(value, "padLeft").rjust(_int(width, "padLeft"), _text(char, "padLeft")[:1] or " ")


def _items(_: Deployment, value: Any) -> list:
    if not isinstance(value, Mapping):
        raise ExpressionError(f"items() takes an object, not {value!r}", "items")
    return [{"key": k, "value": v} for k, v in sorted(value.items(), key=lambda kv: str(kv[0]).lower())]


def _float(_: Deployment, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ExpressionError(f"float({value!r}) is not a number", "float") from None


def _index_from_end(safe: bool) -> Callable[..., Any]:
    """`indexFromEnd(array, n)` / `tryIndexFromEnd`: the n-th item counted from the end, 1 being the last (what
    Bicep's `items[^n]` and `items[?^n]` compile to); the `try` form gives null where the other fails."""
    name = "tryIndexFromEnd" if safe else "indexFromEnd"

    def apply(_: Deployment, value: Any, reverse_index: Any) -> Any:
        items, n = _array(value, name), _int(reverse_index, name)
        if 1 <= n <= len(items):
            return items[-n]
        if safe:
            return None
        raise ExpressionError(f"{name}(): index {n} from the end is outside an array of {len(items)}", name)
    return apply


def _network(value: Any, function: str) -> Union[ipaddress.IPv4Network, ipaddress.IPv6Network]:
    try:
        return ipaddress.ip_network(_text(value, function), strict=False)
    except ValueError:
        raise ExpressionError(f"{function}(): {value!r} is not an address range in CIDR notation", function) from None


def _parse_cidr(_: Deployment, value: Any) -> dict:
    """ARM's documented result (template-functions-cidr: parseCidr('10.144.0.0/20'), parseCidr('fdad:3236:5555::/48')):
    IPv4 has a broadcast address and its usable hosts exclude network and broadcast; IPv6 has neither exclusion."""
    net = _network(value, "parseCidr")
    if net.version == 4:
        first, last = (net.network_address + 1, net.broadcast_address - 1) if net.num_addresses > 2 else \
            (net.network_address, net.broadcast_address)
        return {"network": str(net.network_address), "netmask": str(net.netmask),
                "broadcast": str(net.broadcast_address), "firstUsable": str(first), "lastUsable": str(last),
                "cidr": net.prefixlen}
    return {"network": str(net.network_address), "netmask": str(net.netmask), "firstUsable": str(net.network_address),
            "lastUsable": str(net.broadcast_address), "cidr": net.prefixlen}


def _cidr_subnet(_: Deployment, value: Any, new_cidr: Any, index: Any) -> str:
    net, prefix, n = _network(value, "cidrSubnet"), _int(new_cidr, "cidrSubnet"), _int(index, "cidrSubnet")
    if not net.prefixlen <= prefix <= net.max_prefixlen:
        raise ExpressionError(f"cidrSubnet(): /{prefix} cannot split {net}", "cidrSubnet")
    count = 2 ** (prefix - net.prefixlen)
    if not 0 <= n < count:
        raise ExpressionError(f"cidrSubnet(): {net} has {count} subnets of /{prefix}, not an index {n}", "cidrSubnet")
    return str(ipaddress.ip_network((int(net.network_address) + n * 2 ** (net.max_prefixlen - prefix), prefix)))


def _cidr_host(_: Deployment, value: Any, index: Any) -> str:
    """Index 0 is the first address after the network's own (template-functions-cidr: cidrHost('10.144.3.0/24', 0)
    is 10.144.3.1, and for fdad:3236:5555:3000::/52 it is ...::1); an IPv4 broadcast address is no host."""
    net, n = _network(value, "cidrHost"), _int(index, "cidrHost")
    hosts = net.num_addresses - (2 if net.version == 4 else 1)
    if not 0 <= n < hosts:
        raise ExpressionError(f"cidrHost(): {net} has {max(hosts, 0)} host addresses, not an index {n}", "cidrHost")
    return str(net.network_address + 1 + n)


def _base64(_: Deployment, value: Any) -> str:
    import base64

    return base64.b64encode(_text(value, "base64").encode("utf-8")).decode("ascii")


def _base64_to_string(_: Deployment, value: Any) -> str:
    import base64

    return base64.b64decode(_text(value, "base64ToString")).decode("utf-8")


def _data_uri(_: Deployment, value: Any) -> str:
    """dataUri(): ARM's documented form, `data:text/plain;charset=utf8;base64,<UTF-8 bytes in base64>`."""
    import base64

    return "data:text/plain;charset=utf8;base64," + base64.b64encode(_text(value, "dataUri").encode()).decode("ascii")


def _data_uri_to_string(_: Deployment, value: Any) -> str:
    import base64
    from urllib.parse import unquote_to_bytes

    text = _text(value, "dataUriToString")
    header, sep, data = text.partition(",")
    if not header.lower().startswith("data:") or not sep:
        raise ExpressionError(f"dataUriToString(): {text!r} is not a data URI", "dataUriToString")
    raw = base64.b64decode(data) if header.lower().endswith(";base64") else unquote_to_bytes(data)
    return raw.decode("utf-8")


def _uri(_: Deployment, base: Any, relative: Any) -> str:
    from urllib.parse import urljoin

    return urljoin(_text(base, "uri"), _text(relative, "uri"))


def _uri_component(_: Deployment, value: Any) -> str:
    from urllib.parse import quote

    return quote(_text(value, "uriComponent"), safe="")


def _uri_component_to_string(_: Deployment, value: Any) -> str:
    from urllib.parse import unquote

    return unquote(_text(value, "uriComponentToString"))


def _unique_string(_: Deployment, *args: Any) -> str:
    if not args:
        raise ExpressionError("uniqueString() needs at least one string", "uniqueString")
    return unique_string(*(_text(a, "uniqueString") for a in args))


def _guid(_: Deployment, *args: Any) -> str:
    if not args:
        raise ExpressionError("guid() needs at least one string", "guid")
    return arm_guid(*(_text(a, "guid") for a in args))


_M32 = 0xFFFFFFFF


def _rotl32(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _M32


def _fmix32(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    return h ^ (h >> 16)


def murmur_hash64(data: bytes, seed: int = 0) -> int:
    """The 64-bit MurmurHash variant ARM hashes with (`ComputeHash` of Microsoft.PowerPlatform.ResourceStack, as
    described in public reimplementations): two 32-bit lanes over 8-byte little-endian blocks with MurmurHash3's
    x86_128 constants, each lane finalised with fmix32, the lanes mixed into `h2 << 32 | h1`."""
    c1, c2 = 0x239B961B, 0xAB0E9789
    h1 = h2 = seed & _M32
    length, i = len(data), 0
    while i + 8 <= length:
        k1 = int.from_bytes(data[i:i + 4], "little")
        k2 = int.from_bytes(data[i + 4:i + 8], "little")
        h1 ^= (_rotl32((k1 * c1) & _M32, 15) * c2) & _M32
        h1 = (((_rotl32(h1, 19) + h2) & _M32) * 5 + 0x561CCD1B) & _M32
        h2 ^= (_rotl32((k2 * c2) & _M32, 17) * c1) & _M32
        h2 = (((_rotl32(h2, 13) + h1) & _M32) * 5 + 0x0BCAA747) & _M32
        i += 8
    if i < length:
        h1 ^= (_rotl32((int.from_bytes(data[i:i + 4], "little") * c1) & _M32, 15) * c2) & _M32
        if length - i > 4:
            h2 ^= (_rotl32((int.from_bytes(data[i + 4:length], "little") * c2) & _M32, 17) * c1) & _M32
    h1 ^= length & _M32
    h2 ^= length & _M32
    h1 = (h1 + h2) & _M32
    h2 = (h2 + h1) & _M32
    h1, h2 = _fmix32(h1), _fmix32(h2)
    h1 = (h1 + h2) & _M32
    h2 = (h2 + h1) & _M32
    return (h2 << 32) | h1


_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def unique_string(*values: str) -> str:
    """ARM's uniqueString(): the values joined with '-', UTF-8, hashed by `murmur_hash64`, the 64 bits written as 13
    base32 characters (a-z, 2-7), most significant first."""
    value = murmur_hash64("-".join(values).encode("utf-8"))
    out = []
    for _ in range(13):
        out.append(_BASE32[value >> 59])
        value = (value << 5) & 0xFFFFFFFFFFFFFFFF
    return "".join(out)


_GUID_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")


def arm_guid(*values: str) -> str:
    """ARM's guid(): a name-based (version 5, SHA-1) UUID of the values joined with '-', in ARM's namespace
    11fb06fb-712d-4ddd-98c7-e71bbd588830 (as public reimplementations describe it)."""
    return str(uuid.uuid5(_GUID_NAMESPACE, "-".join(values)))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "parameters": lambda d, name: d.parameter(name),
    "variables": lambda d, name: d.variable(name),
    "concat": _concat,
    "format": _format,
    "string": _string,
    "resourceid": _resource_id,
    "subscriptionresourceid": _subscription_resource_id,
    "tenantresourceid": _tenant_resource_id,
    "extensionresourceid": _extension_resource_id,
    "subscription": _subscription,
    "resourcegroup": _resource_group,
    "tolower": _text_function("toLower", str.lower),
    "toupper": _text_function("toUpper", str.upper),
    "trim": _text_function("trim", str.strip),
    "split": _split,
    "replace": _replace,
    "substring": _substring,
    "length": _length,
    "first": _first,
    "last": _last,
    "union": _union,
    "intersection": _intersection,
    "createarray": lambda _, *args: list(args),
    "shallowmerge": lambda d, items: _union(d, *_array(items, "shallowMerge")) if items else {},
    "array": lambda _, value: value if isinstance(value, list) else [value],
    "createobject": _create_object,
    "equals": _equals,
    "not": _not,
    "empty": _empty,
    "contains": _contains,
    "tryget": _try_get,
    "true": lambda _: True,
    "false": lambda _: False,
    "null": lambda _: None,
    "json": _json,
    "bool": _bool,
    "int": _int_function,
    "float": _float,
    "indexfromend": _index_from_end(False),
    "tryindexfromend": _index_from_end(True),
    "parsecidr": _parse_cidr,
    "cidrsubnet": _cidr_subnet,
    "cidrhost": _cidr_host,
    "less": _compare("less", lambda a, b: a < b),
    "lessorequals": _compare("lessOrEquals", lambda a, b: a <= b),
    "greater": _compare("greater", lambda a, b: a > b),
    "greaterorequals": _compare("greaterOrEquals", lambda a, b: a >= b),
    "add": _arith("add", lambda a, b: a + b),
    "sub": _arith("sub", lambda a, b: a - b),
    "mul": _arith("mul", lambda a, b: a * b),
    "div": _arith("div", lambda a, b: int(a / b)),
    "mod": _arith("mod", lambda a, b: a - b * int(a / b)),
    "min": lambda _, *a: min(a[0] if len(a) == 1 and isinstance(a[0], list) else a),
    "max": lambda _, *a: max(a[0] if len(a) == 1 and isinstance(a[0], list) else a),
    "startswith": lambda _, a, b: _text(a, "startsWith").lower().startswith(_text(b, "startsWith").lower()),
    "endswith": lambda _, a, b: _text(a, "endsWith").lower().endswith(_text(b, "endsWith").lower()),
    "indexof": _index_of(False),
    "lastindexof": _index_of(True),
    "join": _join,
    "take": _take_skip(False),
    "skip": _take_skip(True),
    "range": _range,
    "padleft": _pad_left,
    "items": _items,
    "objectkeys": lambda _, value: list(value) if isinstance(value, Mapping) else [],
    "base64": _base64,
    "base64tostring": _base64_to_string,
    "base64tojson": lambda d, value: _json(d, _base64_to_string(d, value)),
    "datauri": _data_uri,
    "datauritostring": _data_uri_to_string,
    "uri": _uri,
    "uricomponent": _uri_component,
    "uricomponenttostring": _uri_component_to_string,
    "uniquestring": _unique_string,
    "guid": _guid,
    "datetimeadd": _date_time_add,
    "datetimefromepoch": _date_time_from_epoch,
    "datetimetoepoch": _date_time_to_epoch,
}


@dataclass(frozen=True)
class Failure:
    """An expression left unevaluated: where it sits (keys and indexes), its text, and why."""

    loc: tuple
    expression: str
    error: ExpressionError


def evaluate_tree(value: Any, deployment: Deployment, loc: tuple = (),
                  copies: Optional[Mapping[str, int]] = None) -> tuple[Any, list[Failure]]:
    """`value` with every expression it can evaluate replaced by its value (property `copy` loops expanded); the
    others stay as they were, each reported as a `Failure` at its location (so one bad expression never hides the
    rest). `copies`: the index of each resource copy loop `value` is in (by lowercased loop name, and '' for
    `copyIndex()` without one)."""
    failures: list[Failure] = []
    indexes = dict(copies or {})

    def walk(item: Any, at: tuple) -> Any:
        if isinstance(item, dict):
            out = {walk(k, (*at, k)) if is_expression(k) else unescape(k) if isinstance(k, str) else k:
                   walk(v, (*at, k)) for k, v in item.items() if not (k == "copy" and isinstance(v, list))}
            loops = item.get("copy")
            for i, loop in enumerate(loops if isinstance(loops, list) else []):
                if isinstance(loop, Mapping) and "name" in loop:
                    try:
                        out[str(loop["name"])] = _copy_loop(loop, deployment, indexes)
                    except ExpressionError as exc:
                        failures.append(Failure((*at, "copy", i), str(loop.get("input", "")), exc))
            return out
        if isinstance(item, list):
            return [walk(v, (*at, i)) for i, v in enumerate(item)]
        if is_expression(item):
            try:
                return evaluate(item, deployment, indexes)
            except ExpressionError as exc:
                failures.append(Failure(at, item, exc))
                return item
            except RecursionError:
                failures.append(Failure(at, item, ExpressionError("nested too deeply", "syntax")))
                return item
        return unescape(item) if isinstance(item, str) else item

    return walk(value, loc), failures
