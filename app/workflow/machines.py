"""One ``transitions.Machine`` per workflow, built once at start-up.

Each machine moves one small carrier object (holding only the state), attached
once when the machine is built: a move sets the carrier to the recommendation's
state (``set_state``) and fires the trigger, under the machine's lock. The ORM
row is never attached, so the library's trigger methods cannot clash with column
names, and attaching and detaching per call (a method per trigger and state, each
time) is not paid on every transition.
"""
from __future__ import annotations

import threading

from transitions import Machine, MachineError

from .definition import Workflow


class UnknownWorkflow(LookupError):
    pass


class _Carrier:
    """What the machine moves: a state and nothing else."""

    state: str


class Engine:
    """The loaded workflows and their machines."""

    def __init__(self, workflows: dict[str, Workflow]):
        self.workflows = dict(workflows)
        self._machines = {wid: (*self._build(wf), threading.Lock()) for wid, wf in self.workflows.items()}

    @staticmethod
    def _build(workflow: Workflow) -> tuple[Machine, _Carrier]:
        carrier = _Carrier()
        return Machine(
            model=carrier,
            states=[{"name": s.name, "final": s.final} for s in workflow.states.values()],
            transitions=[
                {"trigger": t.trigger, "source": list(t.sources), "dest": t.dest}
                for t in workflow.transitions
            ],
            initial=workflow.initial,
            auto_transitions=False,
            send_event=True,
        ), carrier

    def get(self, workflow_id: str) -> Workflow:
        try:
            return self.workflows[workflow_id]
        except KeyError:
            raise UnknownWorkflow(workflow_id) from None

    def move(self, workflow_id: str, state: str, trigger: str) -> str:
        """Let the workflow's machine fire ``trigger`` from ``state``; return the new state.

        Raises ``MachineError`` when the trigger is not possible from ``state``.
        """
        self.get(workflow_id)
        machine, carrier, lock = self._machines[workflow_id]
        with lock:
            machine.set_state(state, model=carrier)
            carrier.trigger(trigger)
            return carrier.state


__all__ = ["Engine", "MachineError", "UnknownWorkflow"]
