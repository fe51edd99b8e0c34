#!/usr/bin/env python3
"""Evidently's DataDriftPreset on the drift benchmark's files (bench/drift.sh), timed: the
Parquet files read with pandas (timed apart), then the report run. Prints one JSON line:
seconds to read, seconds to run the report, and per column the method, the value and
whether it drifted.

    python3 bench/drift/evidently_drift.py REFERENCE.parquet CURRENT.parquet
"""

import json
import sys
import time

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset


def main():
    reference_path, current_path = sys.argv[1], sys.argv[2]
    started = time.perf_counter()
    reference = pd.read_parquet(reference_path)
    current = pd.read_parquet(current_path)
    read_s = time.perf_counter() - started
    numerical = [c for c in reference.columns if c.startswith("n")]
    categorical = [c for c in reference.columns if c.startswith("c")]
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    started = time.perf_counter()
    ref = Dataset.from_pandas(reference, data_definition=definition)
    cur = Dataset.from_pandas(current, data_definition=definition)
    snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
    result = snapshot.dict()
    report_s = time.perf_counter() - started
    columns = {}
    for metric in result["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            name = config["column"]
            value = metric["value"]
            threshold = config.get("threshold")
            method = config.get("method")
            columns[name] = {"method": method, "value": value, "threshold": threshold}
    print(json.dumps({"read_s": read_s, "report_s": report_s, "columns": columns}))


if __name__ == "__main__":
    main()
