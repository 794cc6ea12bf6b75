"""LangGraph graphs hosted as runplane agents, served over the Agent Protocol."""
