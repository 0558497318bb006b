#!/usr/bin/env python3
"""The reference for tests/cron_cronsim.rs: for each input line
`<expression>\t<zone>\t<start seconds>\t<count>`, prints one line with the
first <count> fire times (Unix seconds, space-separated) that cronsim
yields after the start, or `ERR <message>` if cronsim refuses the
expression, or `STOP` after the last time if it gives up (50 years). A line
`OFFSET\t<zone>\t<seconds>` prints the zone's UTC offset (seconds) then,
to compare the host's tz database with the one inside lovebeat.
The @ macros (which cronsim does not take) are expanded first."""
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


def main():
    zones = {}
    out = []
    for line in sys.stdin:
        if line.startswith("OFFSET\t"):
            _, zone, secs = line.rstrip("\n").split("\t")
            tz = zones.setdefault(zone, ZoneInfo(zone))
            offset = datetime.fromtimestamp(int(secs), tz=tz).utcoffset()
            out.append(str(int(offset.total_seconds())))
            continue
        expr, zone, start, count = line.rstrip("\n").split("\t")
        expr = MACROS.get(expr.strip().lower(), expr)
        tz = zones.setdefault(zone, ZoneInfo(zone))
        try:
            it = CronSim(expr, datetime.fromtimestamp(int(start), tz=tz))
        except CronSimError as e:
            out.append(f"ERR {e}")
            continue
        times = []
        try:
            for _ in range(int(count)):
                times.append(str(int(next(it).timestamp())))
        except StopIteration:
            times.append("STOP")
        out.append(" ".join(times))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
