"""One ``transitions.Machine`` per workflow, built once at start-up: the graph, its guards and effects.

Each workflow's machine carries the whole description of what may happen:

- the states and transitions of the workflow file;
- the **guards** as the transitions' conditions, evaluated by the library in this order: the
  caller's roles (``roles``), a required note (``requires: [note]``), no pending statements
  (``requires: [statements]``). The first that fails is written down in the ``Move``, so the
  service can answer with the right error code;
- the **effects** as callbacks after a transition: the due date the new state sets and the
  decision a final state records. They write down what is to happen in the ``Move``; the service
  writes it to the database in its own transaction, so a failure anywhere leaves no trace (the
  library does no rollback of its own). Who is notified, and whether statements still hold a
  decision back, need the database, which a machine built once at start-up does not hold: the
  transition service works them out in its transaction (``app/services/recommendations.py``).

Each machine moves one small carrier object (holding only the state), attached once when the
machine is built: a move sets the carrier to the recommendation's state (``set_state``) and
fires the trigger, under the machine's lock. The ORM row is never attached, so the library's
trigger methods cannot clash with column names, and attaching and detaching per call (a method
per trigger and state, each time) is not paid on every transition. Nothing here reads or writes
the database: a move is worked out before the service's writers queue.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from transitions import EventData, Machine, MachineError

from .. import permissions
from .definition import Transition, Workflow

#: The guards, in the order the service reports them (403 roles, 422 note, 422 statements).
GUARDS = ("roles", "note", "statements")


@dataclass
class Move:
    """One attempt to fire a trigger: what the guards read, and what the effects write down."""

    roles: frozenset[str]
    note: str | None = None
    now: datetime | None = None
    #: Asked only when the transition requires statements: the departments still to answer.
    pending_statements: Callable[[], list[str]] = list
    #: Probing what a caller may try (``Engine.allowed``): only the roles guard counts.
    probe: bool = False
    # Written by the machine:
    refused: str | None = None
    pending: list[str] = field(default_factory=list)
    transition: Transition | None = None
    dest: str | None = None
    due_at: datetime | None = None
    outcome: str | None = None


class UnknownWorkflow(LookupError):
    pass


class _Carrier:
    """What the machine moves: a state and nothing else (``transitions`` adds its methods)."""

    state: str
    trigger: Callable[..., bool]
    may_trigger: Callable[..., bool]


def _has_role(definition: Transition) -> Callable[[EventData], bool]:
    def guard(event: EventData) -> bool:
        move: Move = event.kwargs["move"]
        allowed = permissions.can_fire(move.roles, definition)
        if not allowed:
            move.refused = "roles"
        return allowed

    return guard


def _has_note(event: EventData) -> bool:
    move: Move = event.kwargs["move"]
    if move.probe or move.note:
        return True
    move.refused = "note"
    return False


def _no_pending_statements(event: EventData) -> bool:
    move: Move = event.kwargs["move"]
    if move.probe:
        return True
    move.pending = list(move.pending_statements())
    if move.pending:
        move.refused = "statements"
        return False
    return True


class Engine:
    """The loaded workflows and their machines."""

    def __init__(self, workflows: dict[str, Workflow]):
        self.workflows = dict(workflows)
        self._machines = {wid: (*self._build(wf), threading.Lock()) for wid, wf in self.workflows.items()}
        self.allowed = lru_cache(maxsize=4096)(self._allowed)

    def _build(self, workflow: Workflow) -> tuple[Machine, _Carrier]:
        carrier = _Carrier()

        def record_effects(event: EventData) -> None:
            move: Move = event.kwargs["move"]
            assert event.transition is not None and event.transition.dest is not None  # only transitions call it
            dest = workflow.states[event.transition.dest]
            move.dest = dest.name
            move.due_at = move.now + timedelta(days=dest.deadline_days) if dest.deadline_days and move.now else None
            move.outcome = dest.outcome if dest.final else None

        def transition(definition: Transition) -> dict:
            conditions: list[Callable[[EventData], bool]] = [_has_role(definition)]
            if definition.requires_note:
                conditions.append(_has_note)
            if "statements" in definition.requires:
                conditions.append(_no_pending_statements)
            return {
                "trigger": definition.trigger,
                "source": list(definition.sources),
                "dest": definition.dest,
                "conditions": conditions,
                "after": record_effects,
            }

        return Machine(
            model=carrier,
            states=[{"name": s.name, "final": s.final} for s in workflow.states.values()],
            transitions=[transition(t) for t in workflow.transitions],
            initial=workflow.initial,
            auto_transitions=False,
            send_event=True,
        ), carrier

    def get(self, workflow_id: str) -> Workflow:
        try:
            return self.workflows[workflow_id]
        except KeyError:
            raise UnknownWorkflow(workflow_id) from None

    def possible(self, workflow_id: str, state: str) -> list[str]:
        """The triggers the workflow offers from ``state``, whoever asks."""
        machine, _carrier, _lock = self._machine(workflow_id)
        return machine.get_triggers(state)

    def move(self, workflow_id: str, state: str, trigger: str, move: Move) -> Move:
        """Let the workflow's machine fire ``trigger`` from ``state`` for ``move``.

        Returns ``move`` with ``dest`` and the effects set, or with ``refused`` naming the first
        guard that failed. Raises ``MachineError`` when the trigger is not possible from ``state``.
        """
        machine, carrier, lock = self._machine(workflow_id)
        move.transition = self.workflows[workflow_id].transition(state, trigger)
        with lock:
            machine.set_state(state, model=carrier)
            carrier.trigger(trigger, move=move)
        return move

    def _allowed(self, workflow_id: str, state: str, roles: frozenset[str]) -> tuple[Transition, ...]:
        """The transitions a holder of ``roles`` may fire from ``state`` now (remembered per roles)."""
        machine, carrier, lock = self._machine(workflow_id)
        workflow = self.workflows[workflow_id]
        with lock:
            machine.set_state(state, model=carrier)
            possible = set(machine.get_triggers(state))
            # In the file's order, which is the order of the buttons on the page.
            return tuple(
                t
                for t in workflow.outgoing(state)
                if t.trigger in possible and carrier.may_trigger(t.trigger, move=Move(roles, probe=True))
            )

    def _machine(self, workflow_id: str) -> tuple[Machine, _Carrier, threading.Lock]:
        self.get(workflow_id)
        return self._machines[workflow_id]


__all__ = ["Engine", "GUARDS", "MachineError", "Move", "UnknownWorkflow"]
