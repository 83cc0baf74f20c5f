"""The batch layer: a run as one value (`spec.RunSpec`), the one executor every front door calls
(`execute.execute`), and lists of runs: sweeps (`sweep_plan`, `sweep`, `sweep_store`) and Monte Carlo stress
paths (`stress`) on local processes or Dask (`backends`, `workers`). Internal: `basisbt.run` is the public way in.
"""
