"""Other systems' APIs served over runplane's services: one module of routes each.

A dialect translates its system's wire format to and from the same services the native
API calls, and renders errors in its system's own model (``_route.dialect_route``).
"""
