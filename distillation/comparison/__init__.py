"""Comparing methods over seeds: configuration, plan, records, statistics, studies, calibration."""
