"""Run the simulator standalone.

    python -m tallyfy_source.simulator --port 8765 --members 300 --seed 1
    python -m tallyfy_source.simulator --templates 40 --processes 600 --oneoff-tasks 300   # with workflow data

Prints the base URL, org id(s), token and the env vars that point the connector
at it, then serves until Ctrl-C or SIGTERM.
"""

import argparse
import signal
import sys
import threading
from typing import List, Optional

from .org import SyntheticOrg, default_org_id
from .server import Simulator


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tallyfy_source.simulator", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 = any free port (default 8765)")
    p.add_argument("--org", action="append", default=[], metavar="ID",
                   help="org id (repeat for several orgs; default: one id derived from --seed)")
    p.add_argument("--orgs", type=int, default=None, help="number of generated orgs when --org is not given")
    p.add_argument("--token", default=None)
    p.add_argument("--members", type=int, default=300)
    p.add_argument("--groups", type=int, default=30)
    p.add_argument("--tags", type=int, default=200)
    p.add_argument("--guests", type=int, default=60)
    p.add_argument("--memberships-per-group", type=float, default=None)
    p.add_argument("--templates", type=int, default=0, help="workflow templates (default 0: no workflow data)")
    p.add_argument("--processes", type=int, default=0, help="processes launched from the templates")
    p.add_argument("--oneoff-tasks", type=int, default=0, help="tasks outside any process")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.0, help="seconds slept per request")
    p.add_argument("--rate-limit", type=int, default=None, metavar="N", help="requests per minute")
    p.add_argument("--ignore-sort", action="store_true", help="ignore sort/sort_by parameters")
    p.add_argument("--last-updated", action="store_true", help="serve the update time as last_updated everywhere (default: each endpoint's documented name)")
    p.add_argument("--total-pages-from-default", action="store_true",
                   help="quirk: compute total_pages from the endpoint's default page size")
    a = p.parse_args(argv)

    org_ids = a.org or [default_org_id(a.seed if i == 0 else f"{a.seed}:{i}") for i in range(a.orgs or 1)]
    orgs = [SyntheticOrg.generate(org_id=oid, members=a.members, groups=a.groups, tags=a.tags,
                                  guests=a.guests, memberships_per_group=a.memberships_per_group,
                                  seed=a.seed, templates=a.templates, processes=a.processes,
                                  oneoff_tasks=a.oneoff_tasks)
            for oid in org_ids]
    sim = Simulator(orgs, token=a.token, honour_sort=not a.ignore_sort,
                    update_field_name="last_updated" if a.last_updated else "documented",
                    latency=a.latency, rate_limit_per_minute=a.rate_limit, host=a.host, port=a.port,
                    total_pages_from_default=a.total_pages_from_default)
    sim.start()
    print(f"Tallyfy simulator listening on {sim.base_url}")
    for org in orgs:
        print(f"  org {org.org_id}: {org.count('members')} members, {org.count('groups')} groups, "
              f"{org.count('tags')} tags, {org.count('guests')} guests"
              + (f", {org.count('checklists')} templates, {org.count('runs')} processes, {org.count('tasks')} tasks, "
                 f"{org.count('activity')} feed events" if org.count("activity") else ""))
    print(f"  token: {sim.token}")
    print("Point the connector at it with:")
    for k, v in sim.env().items():
        print(f"  export {k}={v}")
    sys.stdout.flush()

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        print("simulator stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
