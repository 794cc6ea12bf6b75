"""The console's approvals pages."""

from fastapi import APIRouter

router = APIRouter()
