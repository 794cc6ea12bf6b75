"""The console's agents pages."""

from fastapi import APIRouter

router = APIRouter()
