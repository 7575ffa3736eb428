"""Turn a validated model version into a deployable package: lock, SBOM, serving scaffold, model card
and a reproducible archive. Plain Python, no Django, so it can run in a worker or a build step."""
