"""The console's run pages."""

from fastapi import APIRouter

router = APIRouter()
