"""``python -m integrations.crm.hubspot_sandbox``: serve an empty portal by hand."""

import argparse

from . import HubSpotSandbox, serve

parser = argparse.ArgumentParser(description="Serve an empty HubSpot sandbox.")
parser.add_argument("--port", type=int, default=8766)
parser.add_argument("--token", default="sandbox-token")
args = parser.parse_args()
box = HubSpotSandbox(token=args.token, port=args.port, start=None).start()
print(f"HubSpot sandbox at {box.base_url} (token {args.token})")
serve(box)
