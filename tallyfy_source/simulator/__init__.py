"""A Tallyfy-compatible API simulator: synthetic orgs served over real HTTP.

    from tallyfy_source.simulator import Simulator, SyntheticOrg
    org = SyntheticOrg.generate(seed=1)
    with Simulator(org) as sim:
        ...  # point the connector at sim.base_url with sim.token and org.org_id
"""

from .faults import Fault, FaultPlan, change_between
from .org import SyntheticOrg
from .server import Simulator
from .timestamps import format_ts, parse_ts

__all__ = ["Simulator", "SyntheticOrg", "FaultPlan", "Fault", "change_between", "format_ts", "parse_ts"]
