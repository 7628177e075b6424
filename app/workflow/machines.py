"""One ``transitions.Machine`` per workflow, built once at start-up.

A transition attaches a small carrier object (holding only the state) for one
call and detaches it afterwards. ``remove_model`` leaves the trigger methods
bound on whatever was attached, so attaching the ORM row itself would leave
engine methods on it and let trigger names clash with column names; the carrier
keeps the machine and the row apart.
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
        self._machines = {wid: (self._build(wf), threading.Lock()) for wid, wf in self.workflows.items()}

    @staticmethod
    def _build(workflow: Workflow) -> Machine:
        return Machine(
            model=None,
            states=[{"name": s.name, "final": s.final} for s in workflow.states.values()],
            transitions=[
                {"trigger": t.trigger, "source": list(t.sources), "dest": t.dest}
                for t in workflow.transitions
            ],
            initial=workflow.initial,
            auto_transitions=False,
            send_event=True,
        )

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
        machine, lock = self._machines[workflow_id]
        carrier = _Carrier()
        with lock:
            machine.add_model(carrier, initial=state)
            try:
                carrier.trigger(trigger)
            finally:
                machine.remove_model(carrier)
        return carrier.state


__all__ = ["Engine", "MachineError", "UnknownWorkflow"]
