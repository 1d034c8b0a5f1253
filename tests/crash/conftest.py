"""The crash test reuses the helpers of tests/api (EngageServer,
provision_tenant, http_request), loaded once as the module `engage_api`."""
import importlib.util
import sys
from pathlib import Path

_API = Path(__file__).resolve().parents[1] / "api" / "conftest.py"
if "engage_api" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("engage_api", _API)
    _mod = importlib.util.module_from_spec(_spec)
    sys.modules["engage_api"] = _mod
    _spec.loader.exec_module(_mod)

# Failing tests show the stderr of the servers they started.
pytest_runtest_makereport = sys.modules["engage_api"].pytest_runtest_makereport
