"""Request dependencies: the runtime and the authenticated principal."""

from typing import Annotated

from fastapi import Depends, Header, Request

from runplane.domain.models import Principal
from runplane.services import auth
from runplane.services.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    """The process's runtime, set up by the app's lifespan."""
    rt: Runtime = request.app.state.rt
    return rt


async def get_principal(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    """Authenticate ``Authorization: Bearer KEY`` or ``x-api-key: KEY``."""
    key = x_api_key
    if authorization:
        scheme, _, value = authorization.partition(" ")
        key = value.strip() if scheme.lower() == "bearer" else None
    return await auth.authenticate(get_runtime(request), key)


async def get_optional_principal(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal | None:
    """The caller if a key is given (signed links work without one)."""
    if not authorization and not x_api_key:
        return None
    return await get_principal(request, authorization, x_api_key)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
OptionalPrincipalDep = Annotated[Principal | None, Depends(get_optional_principal)]
