"""axe-core, the accessibility checker, run inside the pages of the browser tests.

axe-core comes from the npm registry, pinned to one exact version in tests/browser/package.json and
package-lock.json, and is installed by `npm ci` into tests/browser/node_modules (not in git) when it
is missing or is not the locked version -- at the start of the browser tests, as Chromium is. Without
npm: with CI=true the tests fail; elsewhere they are skipped, saying why (see `ensure_axe`).

`check_axe(page)` evaluates axe.min.js in every frame of the page (TinyMCE edits in an iframe) and
fails on any violation whose impact is critical or serious, naming the rule, its help text and the
elements. The script is run with `page.evaluate` rather than `add_script_tag`: the
Content-Security-Policy of our pages (portal.headers) allows only scripts carrying the request's
nonce, and a script evaluated by the driver is not subject to it, so the page keeps its real policy.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

BROWSER_DIR = Path(__file__).resolve().parent
AXE_DIR = BROWSER_DIR / "node_modules" / "axe-core"
AXE_SCRIPT = AXE_DIR / "axe.min.js"
FAILING_IMPACTS = ("critical", "serious")
# Every rule axe runs by default can fail a test; only these elements are let off, each a defect of a
# third-party widget that no option of ours changes: (rule, the element's own selector -- the last
# part of axe's target, inside whatever frame).
KNOWN_THIRD_PARTY: dict[tuple[str, str], str] = {
    ("aria-prohibited-attr", "#tinymce"):
        "TinyMCE 6.7.3 writes aria-label on the body of its editing iframe (hard-coded in tinymce.min.js)",
    ("label-content-name-mismatch", ".tox-tbtn--bespoke"):
        "TinyMCE's block-format button is named 样式 (Blocks) and shows the current format (段落, 标题 2)",
}
RUN_OPTIONS: dict[str, Any] = {"resultTypes": ["violations"]}


def _log(message: str) -> None:
    print(f"[browser] {message}", file=sys.stderr, flush=True)


def locked_version() -> str:
    """The axe-core version package-lock.json pins."""
    lock = json.loads((BROWSER_DIR / "package-lock.json").read_text(encoding="utf-8"))
    return lock["packages"]["node_modules/axe-core"]["version"]


def installed_version() -> str | None:
    try:
        return json.loads((AXE_DIR / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return None


def ensure_axe() -> Path:
    """The path of axe.min.js, installed with `npm ci` when missing or stale; RuntimeError when npm
    is missing or fails."""
    wanted = locked_version()
    if AXE_SCRIPT.is_file() and installed_version() == wanted:
        return AXE_SCRIPT
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"axe-core {wanted} is not installed in {BROWSER_DIR / 'node_modules'} and npm is "
                           "missing; install Node.js and npm (Debian: `apt-get install npm`)")
    command = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
    _log(f"installing axe-core {wanted}: {' '.join(command)} in {BROWSER_DIR}")
    result = subprocess.run(command, cwd=BROWSER_DIR, stdin=subprocess.DEVNULL, stdout=2, stderr=2,
                            env={**os.environ, "NODE_ENV": "development"})
    if result.returncode != 0 or not AXE_SCRIPT.is_file() or installed_version() != wanted:
        raise RuntimeError(f"`npm ci` in {BROWSER_DIR} did not install axe-core {wanted} (see its output above)")
    return AXE_SCRIPT


def format_violations(violations: list[dict[str, Any]], where: str) -> str:
    """One readable block per violation: rule, impact, help, link and the offending elements."""
    lines = [f"axe-core: {len(violations)} critical/serious violation(s) on {where}:"]
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"][:10]:
            target = " ".join(json.dumps(t, ensure_ascii=False) for t in node["target"])
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    {target}: {node['html'][:160]}")
            if summary:
                lines.append(f"      {summary[:300]}")
        if len(v["nodes"]) > 10:
            lines.append(f"    ... and {len(v['nodes']) - 10} more")
    return "\n".join(lines)


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe's critical and serious violations on the page as it is now (all its frames)."""
    source = AXE_SCRIPT.read_text(encoding="utf-8")
    for frame in page.frames:  # axe asks each frame for its part; a frame without axe would time out
        if not frame.is_detached() and not frame.evaluate("() => typeof window.axe === 'object'"):
            frame.evaluate(source + "\n;true")  # evaluated as a script, not called as a function
    results = page.evaluate("(options) => axe.run(document, options)", RUN_OPTIONS)
    found = []
    for v in results["violations"]:
        nodes = [n for n in v["nodes"] if (v["id"], str(n["target"][-1])) not in KNOWN_THIRD_PARTY]
        if v["impact"] in FAILING_IMPACTS and nodes:
            found.append({**v, "nodes": nodes})
    return found


def check_axe(page: Any, where: str | None = None) -> None:
    """Fail when axe finds a critical or serious violation on the page."""
    violations = axe_violations(page)
    assert not violations, format_violations(violations, where or page.url)
