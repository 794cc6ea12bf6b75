"""The replay gate refusing a regressed draft: a step agent, end to end, offline.

Run against a server (``RUNPLANE_URL``, ``RUNPLANE_API_KEY``, an admin key)::

    python -m examples.gate_demo

It publishes a one-step agent, gives it a few production runs, and makes a benchmark
with an exact-match scorer its required gate. A draft with new instructions answers
differently; its gate replays the production runs against it (their tool outputs
recorded, the model live) and fails, and publishing it is refused. An admin then
publishes it anyway, with a reason the activity log keeps.
"""

import uuid
from typing import Any

from runplane import Client
from runplane.client import ConflictError

QUESTIONS = [
    "What is a write-ahead log?",
    "Why batch commits?",
    "What does fsync promise?",
]
GOOD = "Answer in one short paragraph: {{ input.question }}"
REGRESSED = "Ignore the question and write a limerick about databases, then {{ input.question }}"


def definition(name: str, instructions: str) -> dict[str, Any]:
    """A one-step agent: the offline model answers what its instructions ask."""
    return {
        "name": name,
        "kind": "steps",
        "description": "Answers questions briefly.",
        "input_schema": {
            "type": "object",
            "required": ["question"],
            "properties": {"question": {"type": "string"}},
        },
        "model": {"name": "offline"},
        "steps": [
            {"name": "answer", "instructions": instructions, "output": {"format": "markdown"}}
        ],
    }


def prepare(client: Client, name: str | None = None) -> tuple[str, str]:
    """A published, gated agent with production runs, and a regressed draft: (name, draft)."""
    name = name or f"answers-{uuid.uuid4().hex[:6]}"
    made = client.agents.create(definition(name, GOOD))
    client.agents.publish(name, made.revision.id)
    for question in QUESTIONS:
        client.runs.create(name, {"question": question}, wait=60)
    client.benchmarks.create(
        name,
        "gate",
        [{"type": "exact"}],
        gate={"required": True, "thresholds": {"exact": 1.0}, "replay_runs": 10},
    )
    draft = client.agents.revise(name, definition(name, REGRESSED))
    return name, draft.id


def main() -> None:
    """Show the gate failing a regressed draft, the refused publish, and an admin override."""
    with Client() as client:
        name, draft = prepare(client)
        print(f"agent {name}: published revision answers {len(QUESTIONS)} production runs")
        print(f"draft {draft}: new instructions")
        client.agents.start_gate(name, draft)
        suite = client.agents.wait_for_gate(name, draft, timeout=120)
        rates = {k: v["pass_rate"] for k, v in (suite.summary or {})["scorers"].items()}
        print(f"gate {suite.id}: {suite.status}, passed={suite.passed}, pass rates {rates}")
        try:
            client.agents.publish(name, draft)
        except ConflictError as refused:
            print(f"publish refused (409): {refused.message}")
        done = client.agents.publish(name, draft, override_reason="demo: accepted on purpose")
        print(f"published {done.id} over the gate, with a recorded reason")


if __name__ == "__main__":
    main()
