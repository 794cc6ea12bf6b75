"""Example LangGraph graphs, no model needed: a chat echo, an approval, a counter."""

import asyncio
import operator
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import interrupt


class ChatState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def _answer(state: ChatState) -> dict[str, Any]:
    last_user = next((m for m in reversed(state["messages"]) if m.type == "human"), None)
    text = last_user.content if last_user is not None else ""
    return {"messages": [AIMessage(content=f"You said: {text}")]}


_chat = StateGraph(ChatState)
_chat.add_node("answer", _answer)
_chat.add_edge(START, "answer")
_chat.add_edge("answer", END)
chat = _chat.compile()
chat.name = "chat"


class ApprovalState(TypedDict, total=False):
    action: str
    approved: bool
    comment: str
    done: str


def _ask(state: ApprovalState) -> dict[str, Any]:
    answer = interrupt({"question": "Approve this action?", "action": state.get("action", "")})
    if isinstance(answer, dict):
        return {"approved": bool(answer.get("approved")), "comment": answer.get("comment", "")}
    return {"approved": bool(answer)}


def _act(state: ApprovalState) -> dict[str, Any]:
    verb = "done" if state.get("approved") else "skipped"
    return {"done": f"{state.get('action', 'nothing')}: {verb}"}


_approval = StateGraph(ApprovalState)
_approval.add_node("ask", _ask)
_approval.add_node("act", _act)
_approval.add_edge(START, "ask")
_approval.add_edge("ask", "act")
_approval.add_edge("act", END)
approval = _approval.compile()


class CounterState(TypedDict, total=False):
    count: Annotated[int, operator.add]
    sleep: float


def _adder(i: int) -> Any:
    async def add(state: CounterState) -> dict[str, Any]:
        if state.get("sleep"):
            await asyncio.sleep(float(state["sleep"]))
        return {"count": 1}

    add.__name__ = f"add{i}"
    return add


_counter = StateGraph(CounterState)
_prev = START
for _i in range(1, 6):
    _counter.add_node(f"add{_i}", _adder(_i))
    _counter.add_edge(_prev, f"add{_i}")
    _prev = f"add{_i}"
_counter.add_edge(_prev, END)
counter = _counter.compile()
