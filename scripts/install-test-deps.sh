#!/usr/bin/env bash
# System packages the test suite talks to: Debian's MQTT clients and broker, and
# Prometheus (its server scrapes Wattline in a test; promtool checks the metrics
# and the alerting rules), PostgreSQL's client tools (pg_dump, pg_restore), and
# Chromium, which Playwright drives in the dashboard's tests (tests/e2e/dashboard;
# Playwright's own browser downloads are not used).
# PostgreSQL, Redis and Mosquitto servers are expected to run on the CI machine;
# tests that need a broker start their own Mosquitto when none is listening.
set -euo pipefail

missing=()
command -v mosquitto_pub >/dev/null 2>&1 || missing+=(mosquitto-clients)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
# pg_dump and pg_restore: the PostgreSQL backup and restore test (docs/operations.md)
command -v pg_dump >/dev/null 2>&1 || missing+=(postgresql-client)
[ -x /usr/bin/chromium ] || missing+=(chromium)

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing ${missing[*]} for the tests"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
