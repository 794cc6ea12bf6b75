"""Following a run as it happens: a live view on a terminal, one line per event elsewhere."""

from collections import deque

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from runplane.cli._render import (
    WAITING,
    event_line,
    event_notes,
    print_outcome,
    print_plan,
    status_text,
    steps_table,
)
from runplane.client import Client
from runplane.domain.events import EVENT_TYPES
from runplane.schemas import EventPublic, RunPublic, StepPublic

RECENT_EVENTS = 6
SHOWN_STEPS = 20
# The panel shows what the agent did; statuses, steps and the result have their own lines.
# (A model's text, ``message.delta``, shows under its step as it is written.)
SHOWN_TYPES = EVENT_TYPES - {
    "status",
    "step.started",
    "step.completed",
    "result",
    "interrupt",
    "message.delta",
}
# How much of a step's streamed text the live view keeps on screen (its end).
LIVE_TEXT_CHARS = 400
# Where a model's streamed text starts, in a pipe.
TEXT_PREFIX = "       model: "


class RunView:
    """The live state of a followed run: its status, its steps, its latest events."""

    def __init__(self, run: RunPublic) -> None:
        self.run = run
        self.status = run.status
        self.steps: dict[int, StepPublic] = {}
        self.recent: deque[Text] = deque(maxlen=RECENT_EVENTS)
        # What a person must do for the run to go on (approve, connect), while it waits.
        self.asks: list[Text] = []
        # The text the model is writing in the step that runs now (``message.delta``).
        self.live_step: int | None = None
        self.live_text = ""

    def apply(self, event: EventPublic) -> None:
        """Fold one event into the view."""
        data = event.data
        if event.type == "status":
            self.status = data.get("status", self.status)
            if self.status in WAITING:
                self.asks.extend(event_notes(event))
            else:
                self.asks = []
        elif event.type in ("approval.required", "auth.required"):
            self.asks = [event_line(event), *event_notes(event)]
        elif event.type == "step.started":
            number = int(data.get("number", len(self.steps) + 1))
            name = str(data.get("name", ""))
            self.steps[number] = StepPublic(
                number=number, name=name, status="running", started_at=event.at
            )
        elif event.type == "message.delta":
            step = data.get("step")
            if step != self.live_step:
                self.live_step, self.live_text = step if isinstance(step, int) else None, ""
            self.live_text = (self.live_text + str(data.get("text", "")))[-LIVE_TEXT_CHARS:]
        elif event.type in ("step.completed", "step.failed"):
            self._finish_step(event)
            if data.get("number") == self.live_step:
                self.live_step, self.live_text = None, ""
        if event.type in SHOWN_TYPES or event.type == "step.failed":
            self.recent.append(event_line(event))

    def _finish_step(self, event: EventPublic) -> None:
        data = event.data
        number = int(data.get("number", 0))
        if event.type == "step.failed":
            status = "failed"
        else:
            status = "reused" if data.get("reused_from") else "completed"
        step = self.steps.get(number) or StepPublic(
            number=number, name=str(data.get("name", "")), status="running"
        )
        self.steps[number] = step.model_copy(update={"status": status, "finished_at": event.at})

    def render(self) -> RenderableType:
        """Draw the view: a header line, the steps table, the latest events."""
        header = Text.assemble(
            (self.run.id, "bold"), "  ", self.run.agent_name, "  ", status_text(self.status)
        )
        parts: list[RenderableType] = [header]
        if self.status in WAITING:
            parts.extend(self.asks)
        if self.steps:
            latest = sorted(self.steps)[-SHOWN_STEPS:]
            parts.append(steps_table(self.steps[n] for n in latest))
        if self.live_text:
            parts.append(Text.assemble(("model: ", "bold"), (self.live_text, "cyan")))
        if self.recent:
            parts.append(Group(*self.recent))
        return Group(*parts)


def follow_run(client: Client, run: RunPublic, out: Console) -> RunPublic:
    """Follow a run until it ends (through its waits), print its outcome, return the run."""
    view = RunView(run)
    if out.is_terminal:
        print_plan(out, run)
        # Redrawn from this thread only, as events arrive: the view is never read mid-update.
        with Live(view.render(), console=out, auto_refresh=False) as live:
            for event in client.runs.stream(run.id):
                view.apply(event)
                live.update(view.render(), refresh=True)
    else:
        out.print(Text.assemble(run.id, " ", run.agent_name, " ", status_text(run.status)))
        print_plan(out, run)
        writing = False  # in the middle of a model's streamed text
        for event in client.runs.stream(run.id):
            if event.type == "message.delta":
                # The text goes on one line as it comes, not one line per piece.
                if not writing:
                    out.print(TEXT_PREFIX, end="", markup=False, highlight=False, soft_wrap=True)
                text = str(event.data.get("text", ""))
                out.print(text, end="", markup=False, highlight=False, soft_wrap=True)
                out.file.flush()
                writing = True
                continue
            if writing:
                out.print()
                writing = False
            out.print(event_line(event), soft_wrap=True)
            for note in event_notes(event):
                out.print(note, soft_wrap=True)
    ended = client.runs.wait(run.id)
    print_outcome(out, ended)
    return ended
