"""Our Resolve adapter and its fake, checked against Resolve's documented API (Resolve cannot run here).

`tests/resolve_api.pyi` transcribes the documented signatures of exactly the calls that
`mytalk.plugin.hosts.resolve` makes: from Resolve 21.1's `DaVinciResolveScript.pyi`, plus
`Timeline.GetSetting` from the README.txt of earlier releases (absent from the 21.1 stub, deprecated
by the 21.1 README); its header names the sources. Both files are read with `ast`, nothing imported:

(a) every Resolve call in the adapter and the launcher is documented, binds to the documented
    signature (count and kind of arguments), and its literal arguments are documented values
    (track types, marker colours, setting and property keys, clipInfo keys); every documented call
    is made (the transcription stays exactly our calls); the only deprecated call is the one that
    has no replacement before 21.1;
(b) `tests/fake_resolve.py` implements exactly those methods per class, with the documented
    parameter names, kinds and defaults, and the documented return types.

What this cannot catch: behaviour (frame conventions, what Resolve returns on failure). That is
the fake's recorded behaviour, tested in `test_hosts_resolve.py`; only a real Resolve can confirm it.
"""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import fake_resolve
import pytest

import mytalk.plugin.hosts.resolve as adapter_module
from conftest import REPO_ROOT

API_FILE = Path(__file__).with_name("resolve_api.pyi")
ADAPTER_SOURCES = (REPO_ROOT / "plugin" / "hosts" / "resolve.py", REPO_ROOT / "resources" / "resolve_launcher.py")
MODULE_FUNCTIONS = ("scriptapp",)  # DaVinciResolveScript's module-level call; every other call is CamelCase
# String arguments that name a key of a documented dict: the key must be a documented one.
KEYED_PARAMETERS = {"settingName": "TimelineSettings", "propertyName": "ClipProperties",
                    "propertyKey": "TimelineItemProperties"}
# Deprecated by the 21.1 README, but its replacement `GetSettings()` exists from 21.1 only, so it is
# the one call that reads a timeline setting on every version from 19.1 (manifest's minimum) to 21.1.
ALLOWED_DEPRECATED = {"GetSetting"}
FAKES: dict[str, type] = {
    "Resolve": fake_resolve.FakeResolve,
    "ProjectManager": fake_resolve.FakeProjectManager,
    "Project": fake_resolve.FakeProject,
    "MediaPool": fake_resolve.FakeMediaPool,
    "MediaPoolItem": fake_resolve.FakeMediaPoolItem,
    "Timeline": fake_resolve.FakeTimeline,
    "TimelineItem": fake_resolve.FakeTimelineItem,
}
# The stub types these as never None, but Resolve answers None when nothing is open and the adapter
# checks for it (with a message saying what to open); the fake returns None for that test.
NONE_WHEN_NOTHING_OPEN = {("Project", "GetCurrentTimeline")}


# --------------------------------------------------------------------------------------------
# The documented API, read from resolve_api.pyi
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Documented:
    owner: str  # class name, or "" for a module function
    name: str
    signature: inspect.Signature
    returns: str
    deprecated: bool


@dataclass(frozen=True)
class Api:
    methods: dict[str, list[Documented]]  # by method name, over every class that has it
    typed_dicts: dict[str, set[str]]
    literals: dict[str, tuple[Any, ...]]

    def of_class(self, owner: str) -> dict[str, Documented]:
        return {doc.name: doc for docs in self.methods.values() for doc in docs if doc.owner == owner}


def _signature(function: ast.FunctionDef, *, method: bool) -> inspect.Signature:
    args = function.args
    positional = [*args.posonlyargs, *args.args][1 if method else 0:]
    defaults: list[Any] = [inspect.Parameter.empty] * (len(positional) - len(args.defaults))
    defaults += [ast.literal_eval(value) for value in args.defaults]
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    parameters = [inspect.Parameter(arg.arg, kind, default=default,
                                    annotation=ast.unparse(arg.annotation) if arg.annotation else inspect.Parameter.empty)
                  for arg, default in zip(positional, defaults, strict=True)]
    assert not (args.vararg or args.kwarg or args.kwonlyargs), f"{function.name}: transcribe plain parameters only"
    return inspect.Signature(parameters)


def _functional_typed_dict(node: ast.Assign) -> tuple[str, set[str]] | None:
    value = node.value
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "TypedDict":
        fields = value.args[1]
        assert isinstance(fields, ast.Dict)
        return ast.literal_eval(value.args[0]), {ast.literal_eval(key) for key in fields.keys if key is not None}
    return None


def read_api(path: Path = API_FILE) -> Api:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    methods: dict[str, list[Documented]] = {}
    typed_dicts: dict[str, set[str]] = {}
    literals: dict[str, tuple[Any, ...]] = {}

    def add(function: ast.FunctionDef, owner: str) -> None:
        assert function.returns is not None, f"{owner}.{function.name}: transcribe the return type"
        deprecated = any(isinstance(d, ast.Call) and ast.unparse(d.func) == "deprecated" for d in function.decorator_list)
        methods.setdefault(function.name, []).append(Documented(
            owner, function.name, _signature(function, method=bool(owner)), ast.unparse(function.returns), deprecated))

    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            if any(ast.unparse(base) == "TypedDict" for base in node.bases):
                typed_dicts[node.name] = {item.target.id for item in node.body
                                          if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)}
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    add(item, node.name)
        elif isinstance(node, ast.FunctionDef):
            add(node, "")
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            functional = _functional_typed_dict(node)
            if functional is not None:
                typed_dicts[functional[0]] = functional[1]
            elif isinstance(node.value, ast.Subscript) and ast.unparse(node.value.value) == "Literal":
                literals[node.targets[0].id] = tuple(ast.literal_eval(node.value.slice))
    return Api(methods, typed_dicts, literals)


# --------------------------------------------------------------------------------------------
# The Resolve calls our code makes, read with ast
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallSite:
    where: str
    name: str
    node: ast.Call


def _imported_modules(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names |= {alias.asname or alias.name for alias in node.names}
    return names


def resolve_calls(source: str, label: str) -> list[CallSite]:
    """Attribute calls that go to Resolve: CamelCase methods (our own code is snake_case) and
    `scriptapp`, on anything but an imported module or class (`subprocess.Popen` is not Resolve)."""
    tree = ast.parse(source)
    imported = _imported_modules(tree)
    sites = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name = node.func.attr
        root = node.func.value
        while isinstance(root, ast.Attribute | ast.Call | ast.Subscript):
            root = root.func if isinstance(root, ast.Call) else root.value
        if isinstance(root, ast.Name) and root.id in imported:
            continue
        if name[:1].isupper() or name in MODULE_FUNCTIONS:
            sites.append(CallSite(f"{label}:{node.lineno}", name, node))
    return sites


def _value(node: ast.expr, namespace: ModuleType | None) -> Any:
    """A literal argument's value (a module constant counts), or `inspect.Parameter.empty`."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and namespace is not None and node.id.isupper() and hasattr(namespace, node.id):
        return getattr(namespace, node.id)
    return inspect.Parameter.empty


def _argument_problems(site: CallSite, doc: Documented, api: Api, namespace: ModuleType | None) -> list[str]:
    call = site.node
    if any(isinstance(arg, ast.Starred) for arg in call.args) or any(kw.arg is None for kw in call.keywords):
        return [f"{site.where}: {site.name}: pass Resolve arguments explicitly (no * or **)"]
    try:
        bound = doc.signature.bind(*call.args, **{kw.arg: kw.value for kw in call.keywords if kw.arg})
    except TypeError as error:
        return [f"{site.where}: {site.name}{doc.signature} ({doc.owner or 'module'}): {error}"]
    problems = []
    for name, node in bound.arguments.items():
        annotation = doc.signature.parameters[name].annotation
        value = _value(node, namespace)
        allowed: tuple[Any, ...] | set[str] | None = None
        if isinstance(annotation, str) and annotation in api.literals:
            allowed = api.literals[annotation]
        elif name in KEYED_PARAMETERS:
            allowed = api.typed_dicts[KEYED_PARAMETERS[name]]
        if allowed is not None and value is not inspect.Parameter.empty and value not in allowed:
            problems.append(f"{site.where}: {site.name}: {name}={value!r} is not documented (one of {sorted(allowed)})")
        element_type = re.fullmatch(r"list\[(\w+)\]", annotation) if isinstance(annotation, str) else None
        if element_type and element_type.group(1) in api.typed_dicts and isinstance(node, ast.List):
            keys = api.typed_dicts[element_type.group(1)]
            for element in node.elts:
                if not isinstance(element, ast.Dict):
                    problems.append(f"{site.where}: {site.name}: {name} must be a list of "
                                    f"{element_type.group(1)} dicts (got {ast.unparse(element)})")
                    continue
                used = {_value(key, namespace) for key in element.keys if key is not None}
                if not used <= keys:
                    problems.append(f"{site.where}: {site.name}: keys {sorted(map(str, used - keys))} are not in "
                                    f"{element_type.group(1)} {sorted(keys)}")
    return problems


def call_problems(sites: list[CallSite], api: Api, namespace: ModuleType | None = None) -> list[str]:
    """Why calls do not match the documentation: unknown names, arguments that do not bind, bad values."""
    problems = []
    for site in sites:
        docs = api.methods.get(site.name)
        if not docs:
            problems.append(f"{site.where}: {site.name} is not a documented Resolve call")
            continue
        # The receiver's type is not inferred: the call must fit every documented class having that name
        # (the transcription holds only our calls, so each of those classes is one we call it on).
        for doc in docs:
            problems += _argument_problems(site, doc, api, namespace)
    return problems


@pytest.fixture(scope="module")
def api() -> Api:
    return read_api()


@pytest.fixture(scope="module")
def our_calls() -> list[CallSite]:
    sites = []
    for path in ADAPTER_SOURCES:
        sites += resolve_calls(path.read_text(encoding="utf-8"), path.relative_to(REPO_ROOT).as_posix())
    return sites


# --------------------------------------------------------------------------------------------
# (a) the adapter against the documentation
# --------------------------------------------------------------------------------------------


def test_every_resolve_call_of_the_adapter_is_documented_and_binds(api: Api, our_calls: list[CallSite]) -> None:
    assert len(our_calls) >= 20, [site.name for site in our_calls]  # the parse found the adapter's calls
    assert call_problems(our_calls, api, adapter_module) == []


def test_the_transcription_is_exactly_the_calls_we_make(api: Api, our_calls: list[CallSite]) -> None:
    assert {site.name for site in our_calls} == set(api.methods)


def test_the_inspector_settings_copied_to_a_fix_are_documented_keys(api: Api) -> None:
    assert set(adapter_module.INSPECTOR_PROPERTIES) <= api.typed_dicts["TimelineItemProperties"]
    assert set(adapter_module.INSPECTOR_PROPERTIES) <= set(fake_resolve.INSPECTOR_DEFAULTS)


def test_the_only_deprecated_call_is_the_one_without_a_replacement_before_21_1(
    api: Api, our_calls: list[CallSite]
) -> None:
    deprecated = {site.name for site in our_calls if all(doc.deprecated for doc in api.methods[site.name])}
    assert deprecated == ALLOWED_DEPRECATED


@pytest.mark.parametrize(
    ("snippet", "fragment"),
    [
        pytest.param("timeline.AddTrack('video', 'mono', 3)", "too many positional arguments", id="arity"),
        pytest.param("timeline.AddTrack('visual')", "trackType='visual' is not documented", id="literal"),
        pytest.param("item.AddMarker(0, 'Mauve', 'n', 'x', 1)", "color='Mauve'", id="marker-colour"),
        pytest.param("timeline.GetSetting('timelineFramerate')", "settingName='timelineFramerate'", id="setting-key"),
        pytest.param("pool.ImportMedia(['/a.mov'])", "must be a list of ImportClipInfo dicts", id="deprecated-form"),
        pytest.param("pool.AppendToTimeline([{'mediaPoolItem': m, 'track': 2}])", "keys ['track']", id="clipinfo-key"),
        pytest.param("timeline.GetItemListInTrack('video', 1)", "not a documented Resolve call", id="undocumented"),
        pytest.param("item.GetStart(precise=True)", "unexpected keyword argument 'precise'", id="keyword"),
    ],
)
def test_the_check_catches_a_wrong_call(api: Api, snippet: str, fragment: str) -> None:
    problems = call_problems(resolve_calls(snippet, "snippet"), api)
    assert len(problems) == 1 and fragment in problems[0], problems


def test_calls_on_imported_modules_are_not_taken_for_resolve_calls() -> None:
    sites = resolve_calls("import subprocess\nsubprocess.Popen(['x'])\nresolve.GetProjectManager()", "snippet")
    assert [site.name for site in sites] == ["GetProjectManager"]


# --------------------------------------------------------------------------------------------
# (b) the fake against the documentation
# --------------------------------------------------------------------------------------------


def _fake_methods(fake: type) -> dict[str, Any]:
    return {name: value for name, value in vars(fake).items() if name[:1].isupper() and callable(value)}


def _type_text(annotation: Any) -> str:
    """Fake type names compare as the documented ones (`FakeTimeline` is our `Timeline`)."""
    return re.sub(r"\bFake", "", str(annotation)).replace(" ", "")


@pytest.mark.parametrize("owner", list(FAKES))
def test_the_fake_implements_exactly_the_documented_methods(api: Api, owner: str) -> None:
    assert set(_fake_methods(FAKES[owner])) == set(api.of_class(owner))


@pytest.mark.parametrize("owner", list(FAKES))
def test_the_fake_has_the_documented_parameters_and_return_types(api: Api, owner: str) -> None:
    for name, method in _fake_methods(FAKES[owner]).items():
        doc = api.of_class(owner)[name]
        fake = inspect.signature(method)
        parameters = list(fake.parameters.values())[1:]  # without self
        assert [(p.name, p.kind, p.default) for p in parameters] == [
            (p.name, p.kind, p.default) for p in doc.signature.parameters.values()], f"{owner}.{name}"
        returns = _type_text(fake.return_annotation)
        expected = _type_text(doc.returns)
        if (owner, name) in NONE_WHEN_NOTHING_OPEN:
            expected += "|None"
        assert returns == expected, f"{owner}.{name} returns {returns}, documented {expected}"
