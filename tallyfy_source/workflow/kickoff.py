"""Labels of kick-off answers (issue 12).

A process serves its kick-off answers keyed by field (timeline) id only. The labels are the
template's kick-off field definitions (`prerun`: id, alias, label, field_type), which only the
single template read `GET checklists/{id}` serves. One request per template is cheap next to
one per process, and labels change rarely, so they are kept per org in the processes resource
state (committed only with a load) and read again only when they may have changed:
- a sweep (the full read) reads each template again the first time one of its processes with
  answers is shaped, so labels are exact after every sweep;
- between sweeps, a template the activity feed names as changed is read again the next time
  one of its processes is loaded; any other template is read once, when its first process with
  answers is loaded;
- processes without answers cost nothing; a template deleted upstream (404) has no labels
  (null, like a field the template no longer defines).
Answers already loaded keep the label they were loaded with until their process is loaded
again (its next change, or the next sweep).
"""

from typing import Any, Dict, Iterable, Optional, Set

from dlt.sources.helpers.rest_client import RESTClient

from tallyfy_source.api.endpoints import TEMPLATES
from tallyfy_source.api.single import get_one
from tallyfy_source.shape.rows import as_list
from tallyfy_source.read.endpoint_read import ReadReport

Labels = Dict[str, str]


def field_labels(prerun: Any) -> Labels:
    """{field id: label} from a template's `prerun` (a list, possibly wrapped in `{"data": ...}`)."""
    return {str(f["id"]): f["label"] for f in as_list(prerun)
            if isinstance(f, dict) and f.get("id") is not None and isinstance(f.get("label"), str)}


class KickoffLabels:
    """One org's template labels for one run of the processes resource."""

    def __init__(self, client: RESTClient, org_id: str, kept: Optional[Dict[str, Labels]], report: ReadReport,
                 reread_all: bool = False, changed: Iterable[str] = ()):
        self.client = client
        self.org_id = org_id
        self.report = report
        self.known: Dict[str, Labels] = dict(kept or {})
        # templates whose labels may be used as kept, without reading them again this run
        self.trusted: Set[str] = set() if reread_all else set(self.known) - {str(c) for c in changed}

    def __call__(self, template_id: Any) -> Labels:
        if template_id is None:
            return {}
        key = str(template_id)
        if key not in self.trusted:
            raw = get_one(self.client, TEMPLATES, self.org_id, key, {}, self.report)
            labels = field_labels(raw.get("prerun")) if raw is not None else {}
            if labels:
                self.known[key] = labels
            else:
                self.known.pop(key, None)
            self.trusted.add(key)
        return self.known.get(key, {})
