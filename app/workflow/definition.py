"""Workflow files: parse YAML into immutable definitions and validate them completely.

Pure functions: no Flask, no database. Every problem in a file is collected (not
just the first), each naming the file, the line where known, and the state,
transition or key at fault. The format is fixed in docs/workflows.md.
"""

from __future__ import annotations

import keyword
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

#: Roles held in a process, plus ``author`` (derived from the recommendation).
ROLES = ("author", "member", "moderator", "administrator")
#: A member of a department from which a statement on the recommendation was requested: may stand
#: in ``visible_to`` and a transition's ``roles`` (not in ``editable_by`` or ``requested_by``).
DEPARTMENT = "department"
#: ``visible_to`` may also name the public (anyone, signed in or not).
PUBLIC = "public"
REQUIREMENTS = ("note", "statements")

#: Names the engine binds on the model it hands to ``transitions`` (and Python's own).
RESERVED_TRIGGERS = frozenset({"trigger", "may_trigger", "state", "machine", "model"})
RESERVED_TRIGGER_PREFIXES = ("is_", "may_", "_")

TOP_KEYS = ("title", "initial", "states", "transitions")
#: Optional top-level keys: what the workflow moves, as a label (docs/workflows.md).
NOUN_KEYS = ("noun", "noun_plural")
#: Optional top-level keys of public intake (docs/workflows.md, "Public intake"): ``intake: public``
#: lets anyone submit by e-mail confirmation; ``retention_days`` erases such submitters' data later.
INTAKE_KEYS = ("intake", "retention_days")
INTAKE_VALUES = ("public",)
STATE_KEYS = (
    "label",
    "visible_to",
    "editable_by",
    "final",
    "outcome",
    "deadline_days",
    "statements",
    "answer_template",
    "follow_up",
)
STATEMENT_KEYS = ("requested_by", "due_days")
TRANSITION_KEYS = ("trigger", "source", "dest", "roles", "requires", "label")
DEFAULT_VISIBLE_TO = ("author", "moderator", "administrator")

_LANGUAGE = re.compile(r"^[a-z]{2,3}([_-][A-Za-z]{2,4})?$")
WORKFLOW_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Label:
    """A plain string, or texts per language (``{de: Entwurf, en: Draft}``)."""

    values: tuple[tuple[str, str], ...]  # (language, text); language "" for a plain string

    @classmethod
    def plain(cls, text: str) -> Label:
        return cls((("", text),))

    def text(self, locale: str | None = None, default_locale: str | None = None) -> str:
        """The text in ``locale``, else in ``default_locale``, else any."""
        by_language = dict(self.values)
        for language in (locale, default_locale):
            if not language:
                continue
            for candidate in (language, language.split("_")[0].split("-")[0]):
                if candidate in by_language:
                    return by_language[candidate]
        return by_language.get("") or self.values[0][1]

    def __str__(self) -> str:
        return self.text()


#: What a workflow moves when its file does not say (``noun``, ``noun_plural``).
DEFAULT_NOUN = Label((("en", "recommendation"), ("de", "Empfehlung")))
DEFAULT_NOUN_PLURAL = Label((("en", "recommendations"), ("de", "Empfehlungen")))


@dataclass(frozen=True)
class Statements:
    """A state's ``statements``: who may ask departments in it, and their default time to answer."""

    requested_by: tuple[str, ...]
    due_days: int | None = None


@dataclass(frozen=True)
class State:
    name: str
    label: Label
    visible_to: tuple[str, ...] = DEFAULT_VISIBLE_TO
    editable_by: tuple[str, ...] = ()
    final: bool = False
    outcome: str | None = None
    deadline_days: int | None = None
    statements: Statements | None = None
    #: A final state's answer template: prefills the justification of the decision leading into it.
    answer_template: Label | None = None
    #: A final state whose decision is carried out: reports on its implementation are asked for.
    follow_up: bool = False


@dataclass(frozen=True)
class Transition:
    trigger: str
    sources: tuple[str, ...]
    dest: str
    roles: tuple[str, ...]
    requires: tuple[str, ...] = ()
    label: Label | None = None

    @property
    def requires_note(self) -> bool:
        return "note" in self.requires

    def display(self, locale: str | None = None, default_locale: str | None = None) -> str:
        return self.label.text(locale, default_locale) if self.label else self.trigger


@dataclass(frozen=True)
class Workflow:
    id: str
    title: Label
    initial: str
    states: Mapping[str, State]  # in file order
    transitions: tuple[Transition, ...]
    noun: Label = DEFAULT_NOUN  # what the workflow moves: "recommendation", "concern", ...
    noun_plural: Label = DEFAULT_NOUN_PLURAL
    intake: str | None = None  # "public": anyone may submit, confirming by e-mail (app/services/intake.py)
    retention_days: int | None = None  # submitters' data erased this long after a final state
    _outgoing: Mapping[str, tuple[Transition, ...]] = field(repr=False, compare=False, default_factory=dict)

    def __post_init__(self):
        outgoing: dict[str, list[Transition]] = {name: [] for name in self.states}
        for transition in self.transitions:
            for source in transition.sources:
                outgoing.setdefault(source, []).append(transition)
        object.__setattr__(self, "states", MappingProxyType(dict(self.states)))
        object.__setattr__(self, "_outgoing", MappingProxyType({k: tuple(v) for k, v in outgoing.items()}))

    def outgoing(self, state: str) -> tuple[Transition, ...]:
        """The transitions that may fire from ``state`` (empty for unknown states)."""
        return self._outgoing.get(state, ())

    def transition(self, state: str, trigger: str) -> Transition | None:
        return next((t for t in self.outgoing(state) if t.trigger == trigger), None)

    def state_label(self, name: str, locale: str | None = None, default_locale: str | None = None) -> str:
        state = self.states.get(name)
        return state.label.text(locale, default_locale) if state else name


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    where: str | None
    message: str

    def __str__(self) -> str:
        location = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{location}: {self.where}: {self.message}" if self.where else f"{location}: {self.message}"


class InvalidWorkflows(Exception):
    """Raised at start-up when any workflow file is invalid."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("invalid workflow files, the application will not start:\n" + "\n".join(f"  {p}" for p in self.problems))


# --------------------------------------------------------------------------- YAML with lines


class _Document:
    """A composed YAML document turned into Python values, remembering each value's line."""

    def __init__(self, text: str, file: str, problems: list[Problem]):
        self.file = file
        self.problems = problems
        self.lines: dict[tuple, int] = {}
        # libyaml's loader where PyYAML was built with it: the same nodes and marks, a tenth of the time
        loader = (yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader)(text)
        try:
            node = loader.get_single_node()
            self.value = None if node is None else self._convert(node, (), loader)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
            reason = getattr(error, "problem", None) or str(error)
            problems.append(Problem(file, mark.line + 1 if mark else None, None, f"YAML does not parse: {reason}"))
            self.value = None
        finally:
            loader.dispose()

    def _convert(self, node: yaml.Node, path: tuple, loader: Any) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            result: dict = {}
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node, deep=True)
                if not isinstance(key, str):
                    self.problems.append(Problem(self.file, key_node.start_mark.line + 1, None, f"key {key!r} is not a string"))
                    continue
                if key in result:
                    self.problems.append(
                        Problem(self.file, key_node.start_mark.line + 1, _where(path, key), f"key '{key}' appears twice")
                    )
                result[key] = self._convert(value_node, path + (key,), loader)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self._convert(item, path + (index,), loader) for index, item in enumerate(node.value)]
        return loader.construct_object(node, deep=True)

    def line(self, *path) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


def _where(path: tuple, key: str | None = None) -> str | None:
    if path[:1] == ("states",) and len(path) > 1:
        return f"state '{path[1]}'" + (f", key '{key}'" if key and len(path) == 2 else "")
    return f"key '{key}'" if key else None


# --------------------------------------------------------------------------- validation


class _Checker:
    def __init__(self, workflow_id: str, file: str, text: str):
        self.workflow_id = workflow_id
        self.file = file
        self.problems: list[Problem] = []
        self.doc = _Document(text, file, self.problems)

    def problem(self, path: tuple, where: str | None, message: str) -> None:
        self.problems.append(Problem(self.file, self.doc.line(*path), where, message))

    # -- small value checks ---------------------------------------------------

    def label(self, value: Any, path: tuple, where: str) -> Label | None:
        if isinstance(value, str) and value.strip():
            return Label.plain(value)
        if isinstance(value, dict) and value:
            good = True
            for language, text in value.items():
                if not _LANGUAGE.match(language):
                    self.problem(path + (language,), where, f"'{language}' is not a language code (like de or en)")
                    good = False
                elif not (isinstance(text, str) and text.strip()):
                    self.problem(path + (language,), where, f"the {language} text must be a non-blank string")
                    good = False
            return Label(tuple(value.items())) if good else None
        self.problem(path, where, "must be a non-blank string or a mapping from language code to string")
        return None

    def role_list(self, value: Any, path: tuple, where: str, allowed: tuple[str, ...], key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(path, where, f"'{key}' must be a list of roles")
            return ()
        for index, role in enumerate(value):
            if role not in allowed:
                self.problem(path + (index,), where, f"unknown role '{role}' in '{key}' (known: {', '.join(allowed)})")
        return tuple(dict.fromkeys(r for r in value if r in allowed))

    def unknown_keys(self, mapping: dict, allowed: tuple[str, ...], path: tuple, where: str | None) -> None:
        for key in mapping:
            if key not in allowed:
                self.problem(path + (key,), where, f"unknown key '{key}' (allowed: {', '.join(allowed)})")

    # -- the file -------------------------------------------------------------

    def run(self) -> Workflow | None:
        if not WORKFLOW_ID.match(self.workflow_id):
            self.problem((), None, f"'{self.workflow_id}' is not a usable workflow id (letters, digits, '-', '_', '.')")
        data = self.doc.value
        if self.problems and data is None:
            return None
        if not isinstance(data, dict):
            self.problem((), None, "a workflow file must be a mapping with title, initial, states and transitions")
            return None
        self.unknown_keys(data, TOP_KEYS + NOUN_KEYS + INTAKE_KEYS, (), None)
        for key in TOP_KEYS:
            if key not in data:
                self.problem((), None, f"missing required key '{key}'")

        title = self.label(data["title"], ("title",), "key 'title'") if "title" in data else None
        nouns = self.nouns(data)
        intake, retention_days = self.intake(data)
        states = self.states(data.get("states")) if "states" in data else {}
        initial = data.get("initial")
        if "initial" in data and (not isinstance(initial, str) or initial not in states):
            if states or "states" not in data:
                self.problem(("initial",), "key 'initial'", f"initial state {initial!r} is not a declared state")
        transitions = self.transitions(data.get("transitions"), states) if "transitions" in data else []
        if states and isinstance(initial, str) and initial in states:
            self.graph(states, initial, transitions)
        if self.problems:
            return None
        assert title is not None and isinstance(initial, str)  # else a problem was recorded
        return Workflow(
            self.workflow_id,
            title,
            initial,
            states,
            tuple(transitions),
            noun=nouns.get("noun", DEFAULT_NOUN),
            noun_plural=nouns.get("noun_plural", DEFAULT_NOUN_PLURAL),
            intake=intake,
            retention_days=retention_days,
        )

    def intake(self, data: dict) -> tuple[str | None, int | None]:
        """``intake`` (only ``public``) and ``retention_days`` (a positive whole number of days)."""
        intake = data.get("intake")
        if "intake" in data and intake not in INTAKE_VALUES:
            self.problem(("intake",), "key 'intake'", f"'intake' must be one of: {', '.join(INTAKE_VALUES)} (got {intake!r})")
            intake = None
        days = data.get("retention_days")
        if "retention_days" in data and (type(days) is not int or days < 1):
            self.problem(
                ("retention_days",),
                "key 'retention_days'",
                f"'retention_days' must be a whole number of days, 1 or more (got {days!r})",
            )
            days = None
        return intake, days

    def nouns(self, data: dict) -> dict[str, Label]:
        """``noun`` and ``noun_plural``: labels, given both or neither (a plural cannot be guessed)."""
        nouns = {}
        for key in NOUN_KEYS:
            if key in data:
                value = self.label(data[key], (key,), f"key '{key}'")
                if value is not None:
                    nouns[key] = value
        given = [key for key in NOUN_KEYS if key in data]
        if len(given) == 1:
            missing = "noun_plural" if given == ["noun"] else "noun"
            self.problem(
                (given[0],),
                f"key '{given[0]}'",
                f"'{given[0]}' needs '{missing}' too (for example noun: {{de: Anliegen, en: concern}} "
                f"and noun_plural: {{de: Anliegen, en: concerns}})",
            )
        return nouns

    def states(self, value: Any) -> dict[str, State]:
        path = ("states",)
        if not isinstance(value, dict):
            self.problem(path, "key 'states'", "must be a mapping from state name to its settings")
            return {}
        if len(value) < 2:
            self.problem(path, "key 'states'", "a workflow needs at least two states")
        states: dict[str, State] = {}
        for name, settings in value.items():
            where = f"state '{name}'"
            spath = path + (name,)
            if not name.isidentifier() or keyword.iskeyword(name):
                self.problem(spath, where, "a state name must be an identifier (letters, digits, '_')")
            if settings is None:
                settings = {}
            if not isinstance(settings, dict):
                self.problem(spath, where, "settings must be a mapping (or empty)")
                continue
            self.unknown_keys(settings, STATE_KEYS, spath, where)
            label = self.label(settings["label"], spath + ("label",), where) if "label" in settings else Label.plain(name)
            visible_to: tuple[str, ...] = DEFAULT_VISIBLE_TO
            if "visible_to" in settings:
                visible_to = self.role_list(
                    settings["visible_to"], spath + ("visible_to",), where, ROLES + (DEPARTMENT, PUBLIC), "visible_to"
                )
            editable_by: tuple[str, ...] = ()
            if "editable_by" in settings:
                editable_by = self.role_list(settings["editable_by"], spath + ("editable_by",), where, ROLES, "editable_by")
            final = settings.get("final", False)
            if not isinstance(final, bool):
                self.problem(spath + ("final",), where, "'final' must be true or false")
                final = False
            outcome = settings.get("outcome")
            if outcome is not None and not (isinstance(outcome, str) and outcome.strip()):
                self.problem(spath + ("outcome",), where, "'outcome' must be a non-blank string")
                outcome = None
            if final and outcome is None and "outcome" not in settings:
                self.problem(spath, where, "a final state needs an 'outcome'")
            if not final and "outcome" in settings:
                self.problem(spath + ("outcome",), where, "only a final state has an 'outcome'")
            deadline = settings.get("deadline_days")
            if "deadline_days" in settings:
                if isinstance(deadline, bool) or not isinstance(deadline, int) or deadline < 1:
                    self.problem(spath + ("deadline_days",), where, "'deadline_days' must be a whole number of days, at least 1")
                    deadline = None
                elif final:
                    self.problem(spath + ("deadline_days",), where, "a final state has no deadline")
            statements = (
                self.statements(settings["statements"], spath + ("statements",), where, final)
                if "statements" in settings
                else None
            )
            answer_template = None
            if "answer_template" in settings:
                answer_template = self.label(settings["answer_template"], spath + ("answer_template",), where)
                if not final:
                    self.problem(
                        spath + ("answer_template",),
                        where,
                        "only a final state has an 'answer_template' (the decision's justification)",
                    )
            follow_up = settings.get("follow_up", False)
            if not isinstance(follow_up, bool):
                self.problem(spath + ("follow_up",), where, "'follow_up' must be true or false")
                follow_up = False
            elif follow_up and not final:
                self.problem(spath + ("follow_up",), where, "only a final state has 'follow_up' (a decision to carry out)")
            states[name] = State(
                name,
                label or Label.plain(name),
                visible_to,
                editable_by,
                final,
                outcome,
                deadline,
                statements,
                answer_template,
                follow_up,
            )
        return states

    def statements(self, value: Any, path: tuple, where: str, final: bool) -> Statements | None:
        """A state's ``statements: {requested_by: [roles], due_days: N}``."""
        if not isinstance(value, dict):
            self.problem(path, where, "'statements' must be a mapping with 'requested_by' and optionally 'due_days'")
            return None
        good = True
        for key in value:
            if key not in STATEMENT_KEYS:
                self.problem(path + (key,), where, f"unknown key '{key}' in 'statements' (allowed: {', '.join(STATEMENT_KEYS)})")
                good = False
        requested_by: tuple[str, ...] = ()
        if "requested_by" not in value:
            self.problem(path, where, "'statements' needs 'requested_by': the roles that may ask departments")
            good = False
        else:
            raw = value["requested_by"]
            requested_by = self.role_list(raw, path + ("requested_by",), where, ROLES, "requested_by")
            if raw == []:
                self.problem(path + ("requested_by",), where, "'requested_by' must name at least one role")
        due_days = value.get("due_days")
        if "due_days" in value and (isinstance(due_days, bool) or not isinstance(due_days, int) or due_days < 1):
            self.problem(path + ("due_days",), where, "'due_days' must be a whole number of days, at least 1")
            good = False
        if final:
            self.problem(path, where, "a final state takes no statements")
            good = False
        return Statements(requested_by, due_days) if good else None

    def transitions(self, value: Any, states: dict[str, State]) -> list[Transition]:
        if not isinstance(value, list):
            self.problem(("transitions",), "key 'transitions'", "must be a list of transitions")
            return []
        result: list[Transition] = []
        seen: dict[tuple[str, str], int] = {}
        non_final = tuple(name for name, state in states.items() if not state.final)
        for index, item in enumerate(value):
            tpath = ("transitions", index)
            trigger = item.get("trigger") if isinstance(item, dict) else None
            where = f"transition '{trigger}'" if isinstance(trigger, str) else f"transition #{index + 1}"
            if not isinstance(item, dict):
                self.problem(tpath, where, "must be a mapping with trigger, source, dest and roles")
                continue
            self.unknown_keys(item, TRANSITION_KEYS, tpath, where)
            for key in ("trigger", "source", "dest", "roles"):
                if key not in item:
                    self.problem(tpath, where, f"missing required key '{key}'")
            ok = True
            if "trigger" in item:
                if not isinstance(trigger, str) or not trigger.isidentifier() or keyword.iskeyword(trigger):
                    self.problem(tpath + ("trigger",), where, f"trigger {trigger!r} is not a Python identifier")
                    ok = False
                elif trigger in RESERVED_TRIGGERS or trigger.startswith(RESERVED_TRIGGER_PREFIXES):
                    self.problem(
                        tpath + ("trigger",),
                        where,
                        f"trigger '{trigger}' clashes with a name the engine reserves "
                        f"({', '.join(sorted(RESERVED_TRIGGERS))} and names starting with is_, may_ or _)",
                    )
                    ok = False
            sources: tuple[str, ...] = ()
            if "source" in item:
                raw = item["source"]
                if raw == "*":
                    sources = non_final
                elif isinstance(raw, str):
                    sources = (raw,)
                elif isinstance(raw, list) and raw and all(isinstance(s, str) for s in raw):
                    sources = tuple(raw)
                    if "*" in sources:
                        self.problem(tpath + ("source",), where, "'*' stands alone, not in a list")
                        ok = False
                else:
                    self.problem(tpath + ("source",), where, "'source' must be a state, a list of states, or '*'")
                    ok = False
                for source in sources:
                    if source != "*" and source not in states:
                        self.problem(tpath + ("source",), where, f"source '{source}' is not a declared state")
                        ok = False
            dest = item.get("dest")
            if "dest" in item and (not isinstance(dest, str) or dest not in states):
                self.problem(tpath + ("dest",), where, f"dest {dest!r} is not a declared state")
                ok = False
            roles = (
                self.role_list(item["roles"], tpath + ("roles",), where, ROLES + (DEPARTMENT,), "roles")
                if "roles" in item
                else ()
            )
            if "roles" in item and not roles and item["roles"] == []:
                self.problem(tpath + ("roles",), where, "'roles' must name at least one role")
            requires: tuple[str, ...] = ()
            if "requires" in item:
                raw = item["requires"]
                if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
                    self.problem(tpath + ("requires",), where, "'requires' must be a list")
                else:
                    for r_index, requirement in enumerate(raw):
                        if requirement not in REQUIREMENTS:
                            self.problem(
                                tpath + ("requires", r_index),
                                where,
                                f"unknown requirement '{requirement}' (known: {', '.join(REQUIREMENTS)})",
                            )
                    requires = tuple(r for r in raw if r in REQUIREMENTS)
                    if (
                        "statements" in requires
                        and sources
                        and all(source in states and states[source].statements is None for source in sources)
                    ):
                        self.problem(
                            tpath + ("requires",),
                            where,
                            "requires 'statements', but none of its source states declares 'statements'",
                        )
            label = self.label(item["label"], tpath + ("label",), where) if "label" in item else None
            if ok and isinstance(trigger, str):
                for source in sources:
                    if (source, trigger) in seen:
                        self.problem(
                            tpath + ("trigger",),
                            where,
                            f"trigger '{trigger}' is declared twice from state '{source}' "
                            f"(first in transition #{seen[source, trigger] + 1})",
                        )
                    seen[source, trigger] = index
            if ok and sources and isinstance(dest, str) and isinstance(trigger, str):
                result.append(Transition(trigger, sources, dest, roles, requires, label))
        return result

    def graph(self, states: dict[str, State], initial: str, transitions: list[Transition]) -> None:
        edges: dict[str, set[str]] = {name: set() for name in states}
        reverse: dict[str, set[str]] = {name: set() for name in states}
        for transition in transitions:
            for source in transition.sources:
                edges[source].add(transition.dest)
                reverse[transition.dest].add(source)
        for name, state in states.items():
            where = f"state '{name}'"
            if state.final and edges[name]:
                self.problem(("states", name), where, "a final state must not have outgoing transitions")
            if not state.final and not edges[name]:
                self.problem(("states", name), where, "a non-final state needs at least one outgoing transition")
        reachable = _closure({initial}, edges)
        for name in states:
            if name not in reachable:
                self.problem(("states", name), f"state '{name}'", f"unreachable from the initial state '{initial}'")
        finishing = _closure({n for n, s in states.items() if s.final}, reverse)
        for name in states:
            if name not in finishing:
                self.problem(("states", name), f"state '{name}'", "no final state can be reached from here")


def _closure(start: set[str], edges: dict[str, set[str]]) -> set[str]:
    seen = set(start)
    queue = deque(start)
    while queue:
        for neighbour in edges[queue.popleft()]:
            if neighbour not in seen:
                seen.add(neighbour)
                queue.append(neighbour)
    return seen


# --------------------------------------------------------------------------- loading


def parse_workflow(text: str, workflow_id: str, file: str = "<workflow>") -> tuple[Workflow | None, list[Problem]]:
    """Parse and validate one workflow; returns the definition (or None) and every problem."""
    checker = _Checker(workflow_id, file, text)
    workflow = checker.run()
    return workflow, checker.problems


def load_file(path: Path) -> tuple[Workflow | None, list[Problem]]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return None, [Problem(str(path), None, None, f"cannot be read: {error}")]
    return parse_workflow(text, path.stem, str(path))


def workflow_files(directory: Path) -> list[Path]:
    return sorted(Path(directory).glob("*.yaml"))


def load_directory(directory: Path) -> tuple[dict[str, Workflow], list[Problem]]:
    """Every ``*.yaml`` file in ``directory``, keyed by workflow id."""
    directory = Path(directory)
    if not directory.is_dir():
        return {}, [Problem(str(directory), None, None, "the workflows folder does not exist")]
    workflows: dict[str, Workflow] = {}
    problems: list[Problem] = []
    for path in workflow_files(directory):
        workflow, found = load_file(path)
        problems.extend(found)
        if workflow is not None:
            workflows[workflow.id] = workflow
    if not workflows and not problems:
        problems.append(Problem(str(directory), None, None, "the workflows folder holds no *.yaml file"))
    return workflows, problems
