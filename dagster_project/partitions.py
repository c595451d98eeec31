"""Partitions shared by several modules of the code location."""

from dagster import DailyPartitionsDefinition, HourlyPartitionsDefinition

# end_offset=1: today is a partition too, so a day can be checked while it is still filling.
daily = DailyPartitionsDefinition(start_date="2026-01-01", timezone="UTC", end_offset=1)
hourly = HourlyPartitionsDefinition(start_date="2026-01-01-00:00", timezone="UTC")
