"""Monthly service reports, built from a record store of runs (most of them reduced from job
events recorded on a real 3-host lab), rendered as JSON, CSV and HTML, and the HTML opened in
headless Chromium and looked at, pixel by pixel."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cmectl.contract import Contract
from cmectl.errors import UsageError
from cmectl.events import EventReducer
from cmectl.records import HostResult, Run, open_store
from cmectl.report import (
    CSV_COLUMNS,
    build_report,
    render_csv,
    render_html,
    render_json,
)
from cmectl.requests import acknowledge, cancel, open_request, refresh_fulfilment
from tests.conftest import load_events

SH = ZoneInfo("Asia/Shanghai")
CN = Contract(calendar="cn")
CUSTOMER = "华东电力 East China Power & Light"
LAB = ("lab-1", "lab-2", "lab-3")
NOW = dt.datetime(2026, 11, 2, 9, 10, tzinfo=SH)  # a Monday, the report made after the month
SECRET = "EXTRA-VARS-MUST-NOT-APPEAR"
SCRIPT = "<script>alert('x')</script>"
LOCK = f"E: Could not get lock /var/lib/dpkg/lock-frontend {SCRIPT}"
TIMEOUT = "Failed to connect to the host via ssh: ssh: connect to host 10.0.3.12 port 22: " \
    "Connection timed out"
REFUSED = "Task failed: Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 " \
    "port 32771: Connection refused"


def at(month: int, day: int, hour: int, minute: int = 0) -> str:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=SH).isoformat()


def utc(text: str) -> str:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC).isoformat(timespec="seconds")


def recorded(name: str) -> list[HostResult]:
    """Per-host results of a real run, reduced from its job events as cmectl records them."""
    reducer = EventReducer(LAB)
    for event in load_events(name):
        reducer.feed(event)
    return reducer.results()


def _status(hosts: list[HostResult]) -> str:
    statuses = {h.status for h in hosts}
    if "unreachable" in statuses:
        return "unreachable"
    return "failed" if statuses & {"failed", "not_run"} else "ok"


def add_run(store, request_id: str, started: str, ended: str, hosts: list[HostResult],
            packages=("nginx",), check: bool = False) -> Run:
    run = Run(id=dt.datetime.fromisoformat(started).astimezone(dt.UTC).strftime(
                  "%Y%m%d-%H%M%S-") + request_id[-4:],
              request_id=request_id, action="install", packages=list(packages),
              inventory="inventories/hdpower.yml", started_at=utc(started), status="running",
              check_mode=check, options={"hosts": sorted(h.host for h in hosts)},
              extra_vars={"nginx_tls_key_passphrase": SECRET}, operator="ops")
    store.start_run(run)
    run.ended_at, run.hosts, run.status = utc(ended), hosts, _status(hosts)
    store.finish_run(run)
    if not check:
        refresh_fulfilment(store, request_id)
    return run


def new(store, request_id: str, received: str, **kw):
    args = dict(title="安装 nginx / Install nginx", customer=CUSTOMER, requester="王伟",
                channel="dingtalk", priority="normal", packages=["nginx"], hosts=list(LAB))
    args.update(kw)
    return open_request(store, request_id=request_id, received_at=received, **args)


def installed(host: str, status: str = "changed", **versions: str) -> HostResult:
    return HostResult(host, status, ok=5, changed=2 if status == "changed" else 0,
                      installed={p: {"package": p, "version": v} for p, v in versions.items()})


def build_store(path: Path):
    """October 2026 for one customer. Hand-computed outcomes (cn calendar: 09-12, 13-18 on
    working days; 1-7 Oct holidays; Sat 10 Oct worked) are in the comments."""
    store = open_store(path)
    # 1 Oct 00:30 Shanghai (30 Sep UTC), emergency on 7x24: answered in 10 min, done in 35.
    new(store, "SR-1001", at(10, 1, 0, 30), priority="emergency", hosts=["edge-1"],
        title="紧急: 入口 nginx 宕机 / edge nginx down")
    acknowledge(store, "SR-1001", "on it", at=at(10, 1, 0, 40))
    add_run(store, "SR-1001", at(10, 1, 1, 0), at(10, 1, 1, 5),
            [installed("edge-1", nginx="1.22.1")])
    # Fri 9 Oct 10:00: answered in 12 min; the real first install on the lab, done in 35.
    new(store, "SR-1009", at(10, 9, 10))
    acknowledge(store, "SR-1009", at=at(10, 9, 10, 12))
    add_run(store, "SR-1009", at(10, 9, 10, 30), at(10, 9, 10, 35), recorded("installed"))
    # Sat 10 Oct (a working day) 14:00: 5 min; the real second run changes nothing.
    new(store, "SR-1010", at(10, 10, 14), title="复核 nginx / Re-apply nginx")
    acknowledge(store, "SR-1010", at=at(10, 10, 14, 5))
    add_run(store, "SR-1010", at(10, 10, 14, 30), at(10, 10, 14, 35), recorded("idempotent"))
    # Mon 12 Oct 17:55, high: 5 min that evening + 20 the next morning = 25, missed; the real
    # run fails on lab-2 and never reaches the others, so it is never fulfilled (missed).
    new(store, "SR-1012", at(10, 12, 17, 55), priority="high")
    acknowledge(store, "SR-1012", at=at(10, 13, 9, 20))
    add_run(store, "SR-1012", at(10, 13, 9, 30), at(10, 13, 9, 33), recorded("task_failed"))
    # Wed 14 Oct 11:50, no acknowledgement: the first (check-mode) run at 13:10 answers it,
    # 10 min before lunch + 10 after = 20, missed. Fulfilled at 14:05: 10 + 65 = 75 min.
    new(store, "SR-1014", at(10, 14, 11, 50), packages=["jdk"], hosts=["db-1", "db-2"],
        title="安装 JDK 17 / Install JDK 17")
    add_run(store, "SR-1014", at(10, 14, 13, 10), at(10, 14, 13, 12),
            [installed("db-1"), installed("db-2")], packages=["jdk"], check=True)
    add_run(store, "SR-1014", at(10, 14, 13, 30), at(10, 14, 13, 40),
            [installed("db-1", jdk="17.0.12"),
             HostResult("db-2", "failed", ok=3, failed=1, failed_task="jdk : Install packages",
                        message=LOCK)], packages=["jdk"])
    add_run(store, "SR-1014", at(10, 14, 14), at(10, 14, 14, 5),
            [installed("db-2", jdk="17.0.12")], packages=["jdk"])
    # Sat 17 Oct 22:00, emergency: answered in 40 min (missed); the real runs: the gate stops
    # everything for an unreachable lab-3, then skipping it installs on lab-1 and lab-2.
    new(store, "SR-1017", at(10, 17, 22), priority="emergency")
    acknowledge(store, "SR-1017", at=at(10, 17, 22, 40))
    add_run(store, "SR-1017", at(10, 17, 22, 45), at(10, 17, 22, 46), recorded("gate_unreachable"))
    add_run(store, "SR-1017", at(10, 17, 23, 10), at(10, 17, 23, 15), recorded("skip_unreachable"))
    # Tue 20 Oct 09:05, low: 4 min; app-2 never answers, the request is cancelled.
    new(store, "SR-1020", at(10, 20, 9, 5), priority="low", packages=["jdk", "tomcat"],
        hosts=["app-1", "app-2"], title="=cmd|' /C calc'!A0")
    acknowledge(store, "SR-1020", at=at(10, 20, 9, 9))
    down = HostResult("app-2", "unreachable", unreachable=1,
                      failed_task="Reach Linux hosts over SSH", message=TIMEOUT)
    add_run(store, "SR-1020", at(10, 20, 9, 30), at(10, 20, 9, 40),
            [installed("app-1", jdk="17.0.12", tomcat="10.1.30"), down],
            packages=["jdk", "tomcat"])
    add_run(store, "SR-1020", at(10, 21, 10), at(10, 21, 10, 1), [down],
            packages=["jdk", "tomcat"])
    cancel(store, "SR-1020", "app-2 is being decommissioned")
    # Sat 31 Oct 23:59: the clock starts Mon 2 Nov 09:00; 10 min by NOW, pending both ways.
    new(store, "SR-1031", at(10, 31, 23, 59))
    # Outside the report: the next month, the month before, another customer.
    new(store, "SR-1101", at(11, 1, 0, 10))
    new(store, "SR-0930", at(9, 30, 23, 50))
    new(store, "SR-OTHER", at(10, 15, 10), customer="Another Customer")
    return store


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    store = build_store(tmp_path_factory.mktemp("records"))
    try:
        yield build_report(store, CUSTOMER, "2026-10", CN, now=NOW)
    finally:
        store.close()


def test_month_boundaries_are_taken_in_shanghai_time(report):
    ids = [r.id for r in report.requests]
    assert ids == ["SR-1001", "SR-1009", "SR-1010", "SR-1012", "SR-1014", "SR-1017", "SR-1020",
                   "SR-1031"]
    assert report.requests[0].received_at == "2026-09-30T16:30:00+00:00"  # in: 1 Oct 00:30
    assert report.period.start == "2026-10-01T00:00:00+08:00"
    assert report.period.end == "2026-11-01T00:00:00+08:00"
    assert report.period.timezone == "Asia/Shanghai"


def test_json_totals_match_the_hand_computed_sla(report):
    data = json.loads(render_json(report))
    t = data["totals"]
    rows = {r["id"]: r for r in data["requests"]}
    assert {k: (r["response_minutes"] if r["response_at"] else None, r["response_met"])
            for k, r in rows.items()} == {
        "SR-1001": (10, True), "SR-1009": (12, True), "SR-1010": (5, True),
        "SR-1012": (25, False), "SR-1014": (20, False), "SR-1017": (40, False),
        "SR-1020": (4, True), "SR-1031": (None, None)}
    assert rows["SR-1014"]["response_at"] == utc(at(10, 14, 13, 10))  # the check-mode run
    assert rows["SR-1031"]["response_minutes"] == 10  # waiting so far
    assert {k: r["fulfilment_met"] for k, r in rows.items()} == {
        "SR-1001": True, "SR-1009": True, "SR-1010": True, "SR-1012": False, "SR-1014": True,
        "SR-1017": False, "SR-1020": None, "SR-1031": None}
    assert rows["SR-1014"]["fulfilment_minutes"] == 75
    assert rows["SR-1001"]["clock"] == "7x24" and rows["SR-1009"]["clock"] != "7x24"
    assert rows["SR-1020"]["fulfilment_minutes"] is None  # cancelled
    assert (t["requests"], t["response_met"], t["response_missed"], t["response_pending"]) == \
        (8, 4, 3, 1)
    assert t["response_met_pct"] == round(100 * 4 / 7, 1) == 57.1
    assert (t["fulfilment_met"], t["fulfilment_missed"], t["fulfilment_pending"]) == (4, 2, 2)
    assert t["fulfilment_met_pct"] == 66.7
    assert t["response_median_minutes"] == 12  # of 4 5 10 12 20 25 40
    assert t["response_p95_minutes"] == 40
    assert (t["runs"], t["failed_runs"], t["check_runs"], t["hosts"]) == (10, 6, 1, 8)
    assert t["by_priority"] == {"emergency": 2, "high": 1, "normal": 4, "low": 1}
    assert data["empty"] is False and data["customer"] == CUSTOMER


def test_packages_per_host_are_the_latest_successful_install(report):
    got = {(i.host, i.package): (i.version, i.request_id) for i in report.installed}
    assert got == {
        ("edge-1", "nginx"): ("1.22.1", "SR-1001"),
        ("lab-1", "nginx"): ("0.0-test", "SR-1017"),  # the later run that skipped lab-3
        ("lab-2", "nginx"): ("0.0-test", "SR-1017"),
        ("lab-3", "nginx"): ("0.0-test", "SR-1010"),  # unreachable since
        ("db-1", "jdk"): ("17.0.12", "SR-1014"),
        ("db-2", "jdk"): ("17.0.12", "SR-1014"),
        ("app-1", "jdk"): ("17.0.12", "SR-1020"),
        ("app-1", "tomcat"): ("10.1.30", "SR-1020"),
    }
    assert report.totals.installed == 8


def test_failures_are_grouped_by_cause(report):
    causes = [(c.message, c.count, c.hosts) for c in report.failures]
    assert causes == [(TIMEOUT, 2, ["app-2"]), (REFUSED, 2, ["lab-3"]),
                      (LOCK, 1, ["db-2"]), ("asked to fail", 1, ["lab-2"])]
    lock, failed = report.failures[2].failures[0], report.failures[3].failures[0]
    assert (lock.package, lock.task) == ("jdk", "jdk : Install packages")
    assert (failed.package, failed.task) == ("nginx", "nginx : Fail on demand")
    assert report.failures[0].failures[0].package == "jdk, tomcat"
    assert report.totals.host_failures == 6  # aborted and not-reached hosts are not failures


def test_runs_per_day(report):
    days = {d.date: (d.ok, d.failed) for d in report.runs_per_day if d.ok or d.failed}
    assert days == {"2026-10-01": (1, 0), "2026-10-09": (1, 0), "2026-10-10": (1, 0),
                    "2026-10-13": (0, 1), "2026-10-14": (1, 1), "2026-10-17": (0, 2),
                    "2026-10-20": (0, 1), "2026-10-21": (0, 1)}
    assert len(report.runs_per_day) == 31
    off = {d.date for d in report.runs_per_day if not d.working_day}
    assert "2026-10-01" in off and "2026-10-10" not in off and "2026-10-11" in off


def test_csv_has_one_row_per_request_with_sla_columns(report):
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["request"] for r in rows] == [r.id for r in report.requests]
    by_id = {r["request"]: r for r in rows}
    assert by_id["SR-1012"]["response_sla"] == "missed"
    assert by_id["SR-1012"]["response_minutes"] == "25.0"
    assert by_id["SR-1001"]["received"] == "2026-10-01 00:30"  # local time
    assert by_id["SR-1014"]["fulfilment_minutes"] == "75.0"
    assert by_id["SR-1020"]["fulfilment_sla"] == "cancelled"
    assert by_id["SR-1031"]["response_sla"] == "pending"
    assert by_id["SR-1031"]["responded"] == "" and by_id["SR-1031"]["response_minutes"] == ""
    assert by_id["SR-1020"]["packages"] == "jdk;tomcat"
    assert by_id["SR-1020"]["title"].startswith("'=")  # no formula for a spreadsheet to run


def test_nothing_from_run_variables_is_reported(report):
    for text in (render_json(report), render_csv(report), render_html(report)):
        assert SECRET not in text


@pytest.mark.parametrize("month", ["2026-13", "2026/10", "Oct 2026", "2026-1", "", "2026-10-01"])
def test_a_bad_month_is_a_usage_error(tmp_path, month):
    with pytest.raises(UsageError, match="YYYY-MM"):
        build_report(open_store(tmp_path), CUSTOMER, month, CN, now=NOW)


def test_a_month_without_requests_says_so(tmp_path):
    store = open_store(tmp_path)
    new(store, "SR-X", at(10, 9, 10))
    report = build_report(store, "Quiet Customer <b>", "2026-10", CN, now=NOW)
    assert report.empty and report.totals.requests == 0
    assert report.totals.response_met_pct is None
    assert json.loads(render_json(report))["requests"] == []
    assert render_csv(report).strip() == ",".join(CSV_COLUMNS)
    page = render_html(report)
    assert "No service requests from Quiet Customer &lt;b&gt; in October 2026" in page
    assert "Quiet Customer <b>" not in page and "<svg" not in page  # no empty charts


def test_html_is_one_escaped_self_contained_file(report):
    page = render_html(report)
    assert "<script" not in page.lower()  # no JavaScript, and the message's tag escaped
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "华东电力 East China Power &amp; Light" in page
    assert not re.search(r"""(?i)\b(?:src|href|xlink:href|action|poster)\s*=""", page)
    assert not re.search(r"(?i)url\(|@import|<link|<img|<iframe|<object|<embed", page)
    assert "http://" not in page and "https://" not in page
    assert '"Noto Sans CJK SC"' in page and '"WenQuanYi Micro Hei"' in page
    assert page.count("<svg") == 4


# -- in a browser ----------------------------------------------------------------------------

GREEN, RED, PALE_RED = (0x1F, 0x9D, 0x6B), (0xD9, 0x43, 0x4F), (0xFD, 0xE4, 0xE6)
SIZE = (1280, 2400)
PROBE = """<script>
const out = {};
for (const svg of document.querySelectorAll('svg[data-chart]')) {
  const b = svg.getBoundingClientRect();
  out[svg.dataset.chart] = {x: b.left, y: b.top, w: b.width, h: b.height, marks:
    [...svg.querySelectorAll('[data-mark]')].map(m => {
      const r = m.getBoundingClientRect();
      return [m.dataset.mark, m.dataset.state || '', r.width, r.height];
    })};
}
const pre = document.createElement('pre');
pre.id = 'probe';
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>"""


def chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.fail("chromium is not installed: run scripts/bootstrap, which installs it")
    return subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", f"--user-data-dir={cwd / 'profile'}",
         f"--window-size={SIZE[0]},{SIZE[1]}", *args],
        cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def read_png(path: Path, rows: int) -> tuple[int, int, list[bytes]]:
    """Width, height and the first ``rows`` rows of an 8-bit RGB(A) PNG, as RGB bytes."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    prev = bytearray(stride)
    out = []
    for y in range(min(rows, height)):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        prev = line
        out.append(bytes(line) if bpp == 3 else bytes(
            v for i, v in enumerate(line) if i % 4 != 3))
    return width, height, out


def count(rows: list[bytes], box: dict, colour: tuple[int, int, int], tol: int = 6) -> int:
    x0, x1 = max(int(box["x"]), 0), int(box["x"] + box["w"])
    n = 0
    for line in rows[max(int(box["y"]), 0):int(box["y"] + box["h"])]:
        for x in range(x0, min(x1, len(line) // 3)):
            r, g, b = line[3 * x:3 * x + 3]
            if abs(r - colour[0]) <= tol and abs(g - colour[1]) <= tol and \
                    abs(b - colour[2]) <= tol:
                n += 1
    return n


@pytest.fixture(scope="module")
def rendered(report, tmp_path_factory):
    """The report as a browser shows it: a screenshot, and where each chart landed."""
    folder = tmp_path_factory.mktemp("browser")
    page = folder / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    png = folder / "report.png"
    shot = chromium(f"--screenshot={png}", page.as_uri(), cwd=folder)
    assert png.is_file() and png.stat().st_size > 10_000, shot.stderr[-2000:]
    # The same page with a probe appended (the report itself has no script) says where each
    # chart was laid out and how big each bar, segment and cell is.
    probe = folder / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                     encoding="utf-8")
    dom = chromium("--dump-dom", probe.as_uri(), cwd=folder)
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stderr[-2000:]
    boxes = json.loads(html.unescape(found[1]))
    bottom = max(int(b["y"] + b["h"]) + 1 for b in boxes.values())
    width, height, rows = read_png(png, bottom)
    return {"png": png, "size": (width, height), "boxes": boxes, "rows": rows}


def test_the_html_report_renders_in_chromium_with_charts(rendered, report):
    assert rendered["size"] == SIZE
    boxes = rendered["boxes"]
    assert set(boxes) == {"response", "sla", "runs", "packages"}
    for name, box in boxes.items():
        assert box["w"] > 200 and box["h"] > 50, (name, box)
        assert box["y"] + box["h"] <= SIZE[1], f"{name} is below the screenshot"

    def marks(name, kind):
        return [m for m in boxes[name]["marks"] if m[0] == kind]

    bars = marks("response", "bar")
    assert len(bars) == len(report.requests)
    assert all(w > 5 and h > 0 for _, _, w, h in bars)
    heights = {s: [h for _, st, _, h in bars if st == s] for s in ("met", "missed")}
    # the 40-minute bar is taller than the 4-minute one, and drawn to scale
    assert max(heights["missed"]) > 5 * min(heights["met"])
    assert marks("response", "target")
    assert {m[1] for m in boxes["sla"]["marks"]} == {"met", "missed", "pending"}
    days = marks("runs", "day")
    assert len(days) == 9 and all(h > 0 for *_, h in days)  # 8 days, one with both kinds
    cells = marks("packages", "cell")
    assert len(cells) == 10 and {m[1] for m in cells} == {"installed", "failed"}

    rows = rendered["rows"]
    for name, colours in {"response": (GREEN, RED), "sla": (GREEN, RED), "runs": (GREEN, RED),
                          "packages": (GREEN, PALE_RED)}.items():
        for colour in colours:
            pixels = count(rows, boxes[name], colour)
            assert pixels > 1500, f"the {name} chart shows {pixels} pixels of {colour}"
    # and the page is not blank around them
    sample = {line[i:i + 3] for line in rows[::7] for i in range(0, len(line), 21)}
    assert len(sample) > 30
