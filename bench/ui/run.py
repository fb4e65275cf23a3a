"""Browser benchmark of a labeler's day: headless Chromium against the app started as `labeler serve` does.

Targets (DESIGN.md, issue 14), measured with the demo data and, with `--prompts N`, N prompts stored:
- a rank/score/flag control reacts in <= 50 ms with no server round trip (each press is timed in the
  page from the event to the control's new state, one frame included; websocket frames are counted);
- submit -> next task's prompt visible: p95 <= 300 ms (Ctrl+Enter pressed -> the new prompt on screen);
- a 4-way ranking with ranks, scores and one flag per reply by keyboard alone (keystrokes counted);
- demonstration text typed survives a reload 2 s after the last keystroke; a ranking comment typed
  and submitted with Ctrl+Enter from the comment box is stored.

    python bench/ui/run.py                       # demo data, 20 rankings
    python bench/ui/run.py --prompts 1000000     # 1,000,000 prompts stored (bench/queue's seed)
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import ROOT, write_table  # noqa: E402
from bench.queue.run import percentile  # noqa: E402

CHROMIUM = os.environ.get("LABELER_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
PASSWORD = "bench password"


def _seed(url: str, prompts: int) -> tuple[str, str]:
    """The data: the demo project and accounts, or `prompts` prompts (bench/queue's seed). (user, project)"""
    os.environ["LABELER_DATABASE_URL"] = url
    from labeler.services import session_scope
    from labeler.services.actors import OPERATOR
    from labeler.services.admin import upgrade_database

    upgrade_database(url)
    if prompts:
        from bench.queue.run import seed

        seed(url, prompts, head=400, labelers=2, labels_per_item=1)
        return "labeler0", "bench"
    from labeler.services.demo import ensure_demo_accounts, ensure_demo_project

    with session_scope(url) as s:
        ensure_demo_project(s, OPERATOR)
        ensure_demo_accounts(s, OPERATOR, {"LABELER_DEMO_ADMIN_PASSWORD": PASSWORD,
                                           "LABELER_DEMO_LABELER_PASSWORD": PASSWORD})
    return "alice", "demo"


def _serve(url: str) -> tuple[subprocess.Popen, str]:
    """The app as `labeler serve` starts it (its shipped options), on a free port."""
    from labeler.app.server import config_flags
    from labeler.serving import app_entry_point

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LABELER_DATABASE_URL": url}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(app_entry_point()), *config_flags(),
                             "--server.address", "127.0.0.1", "--server.port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=1) as r:
                if r.read() == b"ok":
                    return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the app did not become healthy in 60 s")


def _settled(page) -> None:  # noqa: ANN001 - a Playwright Page
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000)


def _log_in(page, user: str) -> None:  # noqa: ANN001
    page.goto("/")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_text(f"Logged in as {user}").wait_for(timeout=60_000)
    _settled(page)


# Times one press in the page: from the event to the control's new state, plus the next frame (paint).
REACT_JS = """async ([selector, attr]) => {
  const host = [...document.querySelectorAll('*')].find(e => e.shadowRoot && e.shadowRoot.querySelector('.rank-root'));
  const root = host ? host.shadowRoot : document;
  const el = root.querySelector(selector);
  const t0 = performance.now();
  el.click();
  const changed = el.getAttribute(attr);
  await new Promise(r => requestAnimationFrame(() => r()));
  return [performance.now() - t0, changed];
}"""


def _rank_by_keyboard(page, k: int, flags: int) -> int:  # noqa: ANN001
    """Rank, score and flag every reply with keys only; returns the keystrokes (a chord counts once)."""
    presses = []
    for i in range(k):
        presses += [str(i + 1), f"Shift+{min(7, 7 - i)}"]
        if flags:
            presses += ["f", "1"]
        if i < k - 1:
            presses.append("ArrowDown")
    for key in presses:
        page.keyboard.press(key)
    return len(presses)


ROOT_JS = """() => { const h = [...document.querySelectorAll('*')].find(e => e.shadowRoot
    && e.shadowRoot.querySelector('.rank-root')); return h ? h.shadowRoot.querySelector('.rank-root') : null; }"""
# The next task is on screen: a new lease in the control, and the prompt's first message in the viewport.
NEXT_JS = """old => { const h = [...document.querySelectorAll('*')].find(e => e.shadowRoot
    && e.shadowRoot.querySelector('.rank-root'));
  const root = h && h.shadowRoot.querySelector('.rank-root');
  if (!root || root.dataset.aid === old) return false;
  const m = document.querySelector('[data-testid="stChatMessage"]');
  if (!m) return false;
  const r = m.getBoundingClientRect();
  return r.top >= 0 && r.top < window.innerHeight; }"""


def _aid(page) -> str:  # noqa: ANN001
    return page.evaluate(f"() => ({ROOT_JS})().dataset.aid")


def run(prompts: int, rankings: int) -> list[dict]:
    from playwright.sync_api import sync_playwright

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'ui.db'}"
        t = time.monotonic()
        user, project = _seed(url, prompts)
        seeded_s = time.monotonic() - t
        proc, base = _serve(url)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_context(base_url=base, viewport={"width": 1400, "height": 900}).new_page()
                frames: list[float] = []
                page.on("websocket", lambda ws: ws.on("framesent", lambda _: frames.append(time.monotonic())))
                _log_in(page, user)
                page.get_by_test_id("stSidebarNav").get_by_text("Rank", exact=True).click()
                page.locator(".rank-root").wait_for(timeout=60_000)
                _settled(page)
                react, submit_ms, keystrokes, frames_during_controls = [], [], {}, 0
                for _ in range(rankings):
                    k = page.locator(".rank-card").count()
                    before = len(frames)
                    for i in range(k):  # clicks: rank, score, a flag on each reply, timed in the page
                        for sel in (f'.rank-card:nth-child({i + 1}) [aria-label^="Rank of"] button:nth-child({i + 1})',
                                    f'.rank-card:nth-child({i + 1}) [aria-label^="Quality of"] button:nth-child(4)',
                                    f'.rank-card:nth-child({i + 1}) .flags button:nth-child(1)'):
                            ms, _ = page.evaluate(REACT_JS, [sel, "aria-checked"])
                            react.append(ms)
                    for i in range(k):  # undo the flags and re-do everything with the keyboard alone
                        page.evaluate(REACT_JS, [f'.rank-card:nth-child({i + 1}) .flags button:nth-child(1)',
                                                 "aria-checked"])
                    page.locator(".rank-root").focus()
                    page.keyboard.press("ArrowUp" if k else "Home")
                    for _ in range(k):
                        page.keyboard.press("ArrowUp")
                    keystrokes.setdefault(k, _rank_by_keyboard(page, k, flags=1) + 1)  # + Ctrl+Enter
                    frames_during_controls += len(frames) - before
                    old = _aid(page)
                    status = page.locator(".rank-status").inner_text()
                    if status.strip() and "acceptable" not in status:
                        raise SystemExit(f"the ranking typed is refused on the page: {status}")
                    t0 = time.perf_counter()
                    page.keyboard.press("Control+Enter")
                    page.wait_for_function(NEXT_JS, arg=old, timeout=60_000, polling="raf")
                    submit_ms.append((time.perf_counter() - t0) * 1000)
                    _settled(page)
                    if page.locator(".rank-root").count() == 0:
                        break
                comment_kept = _comment_survives(page, project)
                survived = _autosave_survives(page, url)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    size = prompts or "demo (206 prompts)"
    react_p95 = percentile(react, 0.95)
    rows.append({"data": size, "figure": "control reaction p50 / p95 / max ms",
                 "value": f"{statistics.median(react):.1f} / {react_p95:.1f} / {max(react):.1f}",
                 "target": "<= 50 ms, no round trip", "met": "yes" if react_p95 <= 50 and not frames_during_controls
                 else "NO", "n": len(react), "note": f"{frames_during_controls} websocket frames sent by controls"})
    p95 = percentile(submit_ms, 0.95)
    rows.append({"data": size, "figure": "submit -> next prompt p50 / p95 / max ms",
                 "value": f"{statistics.median(submit_ms):.0f} / {p95:.0f} / {max(submit_ms):.0f}",
                 "target": "p95 <= 300 ms", "met": "yes" if p95 <= 300 else "NO", "n": len(submit_ms),
                 "note": f"seeded in {seeded_s:.0f} s; load average {os.getloadavg()[0]:.0f} on "
                         f"{os.cpu_count()} cores"})
    rows.append({"data": size, "figure": "keystrokes for a K-way ranking (rank, score, 1 flag each, submit)",
                 "value": ", ".join(f"K={k}: {n}" for k, n in sorted(keystrokes.items())), "target": "keyboard alone",
                 "met": "yes", "n": len(keystrokes), "note": "a chord (Shift+5, Ctrl+Enter) counts once"})
    rows.append({"data": size, "figure": "demonstration text after a reload 2 s after the last key",
                 "value": f"{survived[0]}/{survived[1]} kept", "target": "all kept",
                 "met": "yes" if survived[0] == survived[1] else "NO", "n": survived[1], "note": ""})
    rows.append({"data": size, "figure": "ranking comment stored when Ctrl+Enter is pressed in the comment box",
                 "value": "kept" if comment_kept else "LOST", "target": "kept", "met": "yes" if comment_kept else "NO",
                 "n": 1, "note": ""})
    return rows


def _comment_survives(page, project: str) -> bool:  # noqa: ANN001
    """Rank the current task, type a comment and press Ctrl+Enter in the box; is the comment stored?"""
    from sqlalchemy import select

    from db.models import Ranking
    from labeler.services import session_scope

    if page.locator(".rank-root").count() == 0:
        return False
    k = page.locator(".rank-card").count()
    page.locator(".rank-root").focus()
    for i in range(k):
        page.keyboard.press(str(i + 1))
        page.keyboard.press("ArrowDown")
    page.keyboard.press("/")
    comment = f"bench comment {time.time()}"
    page.keyboard.type(comment)
    old = _aid(page)
    page.keyboard.press("Control+Enter")
    page.wait_for_function(NEXT_JS, arg=old, timeout=60_000, polling="raf")
    with session_scope(write=False) as s:
        return s.scalar(select(Ranking.id).where(Ranking.comment == comment)) is not None


def _autosave_survives(page, url: str, tries: int = 3) -> tuple[int, int]:  # noqa: ANN001
    """Type on Demonstrate, wait 2 s after the last key, reload: is every text back?"""
    page.get_by_test_id("stSidebarNav").get_by_text("Demonstrate", exact=True).click()
    kept = 0
    for n in range(tries):
        box = page.get_by_label("Assistant reply")
        box.wait_for(timeout=60_000)
        text = f"Reply draft {n}:\n    indented line\n\nlast line {time.time()}"
        box.fill("")
        box.press_sequentially(text, delay=5)
        page.wait_for_timeout(2000)  # the condition measured: 2 s after the last keystroke
        page.reload()
        _settled(page)
        box = page.get_by_label("Assistant reply")
        box.wait_for(timeout=60_000)
        kept += box.input_value() == text
    return kept, tries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=0, help="prompts stored (0: the demo data)")
    parser.add_argument("--rankings", type=int, default=20, help="rankings submitted (submit -> next samples)")
    args = parser.parse_args()
    rows = run(args.prompts, args.rankings)
    name = f"ui-{args.prompts}" if args.prompts else "ui-demo"
    print(write_table(name, rows, ["data", "figure", "value", "target", "met", "n", "note"],
                      "Browser: a labeler's day (headless Chromium against the app as `labeler serve` starts it)"))


if __name__ == "__main__":
    main()
