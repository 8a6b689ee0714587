"""The emulator records every request body it receives (for the e2e body judge) and serves them to the bearer of its
token at GET /_emulator/bodies (for an emulator in another process)."""

from __future__ import annotations

import requests

SUB = "00000000-0000-0000-0000-000000000001"


def test_bodies_are_recorded_and_served(emulator) -> None:
    auth = {"Authorization": f"Bearer {emulator.token}"}
    url = f"{emulator.base_url}/subscriptions/{SUB}/resourceGroups/rg-bodies?api-version=2024-03-01"
    body = {"location": "westeurope", "tags": {"a": "b"}}
    assert requests.put(url, json=body, headers=auth, verify=emulator.ca_bundle, timeout=30).ok
    requests.get(url, headers=auth, verify=emulator.ca_bundle, timeout=30)  # no body: not recorded
    record = {"method": "PUT", "path": f"/subscriptions/{SUB}/resourceGroups/rg-bodies", "apiVersion": "2024-03-01",
              "body": body}
    assert list(emulator.bodies) == [record] and emulator.bodies_seen == 1
    served = requests.get(f"{emulator.base_url}/_emulator/bodies", headers=auth, verify=emulator.ca_bundle, timeout=30)
    assert served.json() == {"seen": 1, "value": [record]}
    assert requests.get(f"{emulator.base_url}/_emulator/bodies", verify=emulator.ca_bundle, timeout=30).status_code \
        == 401
