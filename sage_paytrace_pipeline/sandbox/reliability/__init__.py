"""The fault campaign: days of sandbox activity run through the pipeline while PayTrace, the Sage
demo company and the run workers fail on purpose, then Sage is checked against the truth.

- `control`: the PayTrace sandbox's control API (fault rules, token expiry, clock, stats)
- `world`: generated days, a Sage demo company whose invoices they pay, web-store payments made
  over HTTP while money routes fail, and the plan of which invoice each payment pays
- `faulty_sage`: the run's `sage100` resource override whose demo-company writer fails on purpose
- `runs`: Dagster runs on a real instance, re-run after failures as an operator would; a run in a
  worker process (killed mid-posting), two workers on one day at once
- `verify`: Sage's tables against the sandbox and the plan (exactly once, balances, journals)
- `campaign`: the whole campaign and its figures (`sage-paytrace faults campaign`)
"""
