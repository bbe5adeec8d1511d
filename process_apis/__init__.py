"""Cross-system workflows and read models, over the system APIs and the stores."""

from process_apis.services import LogisticsServices, build_services
from process_apis.visibility import NotFound

__all__ = ["LogisticsServices", "NotFound", "build_services"]
