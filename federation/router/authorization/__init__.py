"""Authorization in the router: ``@authenticated``, ``@requiresScopes`` and ``@policy``.

Apollo Router's semantics: what the caller may not see is removed from the operation before
it is planned (no fetch for it), answered as null with one ``UNAUTHORIZED_FIELD_OR_TYPE``
error per removed path, and the rest of the answer is intact. ``rules`` reads what a
supergraph declares, ``filtering`` applies it to an operation, ``context`` is what the
embedding app says about the caller.
"""

from federation.router.authorization.context import (
    ANONYMOUS,
    AuthorizationContext,
    PolicyDecider,
)
from federation.router.authorization.filtering import (
    UNAUTHORIZED_CODE,
    FilteredOperation,
    OperationAccess,
    RemovedPath,
    access_of,
    filter_operation,
    unauthorized_errors,
)
from federation.router.authorization.rules import AccessRules, Grant, rules_of

__all__ = [
    "ANONYMOUS",
    "UNAUTHORIZED_CODE",
    "AccessRules",
    "AuthorizationContext",
    "FilteredOperation",
    "Grant",
    "OperationAccess",
    "PolicyDecider",
    "RemovedPath",
    "access_of",
    "filter_operation",
    "rules_of",
    "unauthorized_errors",
]
