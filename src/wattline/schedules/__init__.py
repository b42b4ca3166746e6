"""Schedules: commands sent at cron, daily or sunrise/sunset times, in local time."""
