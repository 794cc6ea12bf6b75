"""Request dependencies: the runtime and the authenticated principal."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from runplane.domain.models import Principal
from runplane.services import auth
from runplane.services.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    """The process's runtime, set up by the app's lifespan."""
    # async: FastAPI runs a plain function dependency in a worker thread, on every request.
    rt: Runtime = request.app.state.rt
    return rt


# The two ways to send a key, declared so that OpenAPI documents them on every operation
# that needs one; they never fail by themselves: ``get_principal`` decides.
BEARER = HTTPBearer(
    auto_error=False, scheme_name="bearer", description="`Authorization: Bearer KEY`"
)
API_KEY = APIKeyHeader(
    name="x-api-key", auto_error=False, scheme_name="apiKey", description="`x-api-key: KEY`"
)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
ApiKey = Annotated[str | None, Depends(API_KEY)]


def _key(request: Request, x_api_key: str | None) -> str | None:
    """The key a request carries; an ``Authorization`` of another scheme carries none."""
    authorization = request.headers.get("authorization")
    if not authorization:
        return x_api_key
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


async def get_principal(request: Request, _: Bearer, x_api_key: ApiKey) -> Principal:
    """Authenticate ``Authorization: Bearer KEY`` or ``x-api-key: KEY``."""
    return await auth.authenticate(await get_runtime(request), _key(request, x_api_key))


async def get_optional_principal(
    request: Request, _: Bearer, x_api_key: ApiKey
) -> Principal | None:
    """The caller if a key is given (signed links work without one)."""
    if not request.headers.get("authorization") and not x_api_key:
        return None
    return await auth.authenticate(await get_runtime(request), _key(request, x_api_key))


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
OptionalPrincipalDep = Annotated[Principal | None, Depends(get_optional_principal)]
