"""The training report (report.html) of a short real run, opened in headless Chromium.

    test_report_page.py ALAE MAKE_IDX WORKDIR

Trains a few steps of mnist-fc, adds a StyleALAE-like level column run and an eval metrics file,
opens each report.html from a file:// URL and checks that the SVG plots render (present, of
non-zero size, one polyline vertex per log row), that every inlined image decodes
(naturalWidth > 0), that the page loads nothing from elsewhere and runs no script, and saves
screenshots into the test's output folder. Then serves the run with `alae serve --run` and checks
the same page over HTTP, that it reloads itself and shows rows appended to log.csv meanwhile (a run
in progress), that the API answers 404 without a model, and that SIGTERM stops the server.
Skips visibly (exit 77) without chromium.
"""
import json
import re
import signal
import time
import urllib.error
import urllib.request
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser  # noqa: E402


def fail(message):
    print("FAIL: %s" % message, flush=True)
    sys.exit(1)


def train(alae, make_idx, work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    subprocess.run([make_idx, work], check=True, stdout=subprocess.DEVNULL)
    run = os.path.join(work, "run")
    subprocess.run([alae, "train", "--preset", "mnist-fc", "--data", os.path.join(work, "tiny.idx"), "--out", run,
                    "--batch", "16", "--threads", "1", "--steps", "8", "--report-every", "1", "--save-every", "4"],
                   check=True, stderr=subprocess.DEVNULL, env=dict(os.environ, ALAE_REPORT_SECONDS="0"))
    with open(os.path.join(run, "eval.json"), "w") as f:
        f.write('{\n  "mse": 0.0123,\n  "psnr": 19.1\n}\n')
    subprocess.run([alae, "report", "--run", run], check=True, stdout=subprocess.DEVNULL)
    return run


def style_run(work):
    """A folder with a StyleALAE log (lod and blend columns) and no images."""
    run = os.path.join(work, "style")
    os.makedirs(run, exist_ok=True)
    with open(os.path.join(run, "log.csv"), "w") as f:
        f.write("step,images,lod,blend,loss_d,loss_g,loss_ae,r1,seconds\n")
        for i in range(1, 41):
            lod = min(i // 10, 3)
            blend = min(1.0, (i % 10) / 5.0) if lod > 0 else 1.0
            f.write("%d,%d,%d,%g,%g,%g,%g,%g,%g\n" % (i, i * 32, lod, blend, 1.0 / i, 2.0 / i, 0.1, 0.5, i * 0.1))
    return run


def data_rows(run):
    with open(os.path.join(run, "log.csv")) as f:
        return len(f.read().splitlines()) - 1


def check_page(driver, run, out, name, expect_lod, url=None):
    url = url or "file://" + os.path.abspath(os.path.join(run, "report.html"))
    driver.get(url)
    rows = data_rows(run)
    svgs = driver.find_elements("css selector", "figure.plot svg")
    if len(svgs) < 4:
        fail("%s: %d SVG plots, expected at least 4" % (name, len(svgs)))
    for svg in svgs:
        size = svg.size
        if size["width"] <= 0 or size["height"] <= 0:
            fail("%s: an SVG plot has size %r" % (name, size))
    lines = driver.find_elements("css selector", "polyline.series")
    series = [line.get_attribute("data-series") for line in lines]
    for wanted in ("D (loss_d)", "G (loss_g)", "AE (loss_ae)", "R1", "images/s"):
        if wanted not in series:
            fail("%s: no curve %r among %r" % (name, wanted, series))
    if expect_lod and not {"lod", "blend"} <= set(series):
        fail("%s: no lod and blend curves among %r" % (name, series))
    for line in lines:
        points = len(line.get_attribute("points").split())
        box = driver.execute_script("var b = arguments[0].getBBox(); return [b.width, b.height];", line)
        if line.get_attribute("data-series") != "images/s" and points != rows:
            fail("%s: curve %s has %d points for %d rows" % (name, line.get_attribute("data-series"), points, rows))
        if box[0] <= 0:
            fail("%s: curve %s is not drawn (bounding box %r)" % (name, line.get_attribute("data-series"), box))
    images = driver.find_elements("tag name", "img")
    for img in images:
        if not img.get_attribute("src").startswith("data:image/png;base64,"):
            fail("%s: an image is not inlined: %s" % (name, img.get_attribute("src")[:80]))
        if driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth;", img) <= 0:
            fail("%s: an image does not decode (%s)" % (name, img.get_attribute("alt")))
    resources = driver.execute_script("return performance.getEntriesByType('resource').length;")
    if resources:
        fail("%s: the page loaded %d resources; it must be self-contained" % (name, resources))
    if driver.find_elements("tag name", "script"):
        fail("%s: the page has a script" % name)
    driver.set_window_size(1280, max(900, driver.execute_script("return document.body.scrollHeight;") + 40))
    shot = os.path.join(out, name + ".png")
    driver.save_screenshot(shot)
    print("%s: %d plots, %d curves (%d rows), %d images decoded; screenshot %s"
          % (name, len(svgs), len(lines), rows, len(images), shot))
    return len(images)


def start_run_server(alae, run):
    proc = subprocess.Popen([alae, "serve", "--run", run, "--port", "0", "--refresh", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    match = re.search(r"on http://127\.0\.0\.1:(\d+)/ \(a training run's report", line)
    if not match:
        proc.kill()
        fail("alae serve --run did not say where it listens: %r %r" % (line, proc.stderr.read()))
    return proc, "http://127.0.0.1:%s/" % match.group(1)


def append_rows(run, count):
    with open(os.path.join(run, "log.csv")) as f:
        last = f.read().splitlines()[-1].split(",")
    with open(os.path.join(run, "log.csv"), "a") as f:
        for i in range(1, count + 1):
            row = list(last)
            row[0] = str(int(last[0]) + i)
            f.write(",".join(row) + "\n")


def check_served(driver, alae, run, out):
    """alae serve --run: the report over HTTP, reloading itself as the run's log grows."""
    help_text = subprocess.run([alae, "serve", "--help"], capture_output=True, text=True).stdout
    if "--run DIR" not in help_text:
        fail("alae serve --help does not offer --run")
    probe = subprocess.run([alae, "serve", "--run", run, "--model", "m.safetensors"], capture_output=True, text=True)
    if probe.returncode != 1 or "without --model" not in probe.stderr:
        fail("--run with --model: status %d, %r" % (probe.returncode, probe.stderr))
    if "built without libmicrohttpd" in probe.stderr:
        print("SKIPPED part: alae serve --run (alae was built without libmicrohttpd)", flush=True)
        return
    missing = subprocess.run([alae, "serve", "--run", os.path.join(run, "nothing-here")], capture_output=True,
                             text=True)
    if missing.returncode != 1 or "is not a folder" not in missing.stderr:
        fail("--run on a missing folder: status %d, %r" % (missing.returncode, missing.stderr))
    proc, url = start_run_server(alae, run)
    try:
        html = urllib.request.urlopen(url, timeout=30).read().decode()
        if 'http-equiv="refresh"' not in html:
            fail("the served report does not reload itself")
        try:
            urllib.request.urlopen(url + "api/info", timeout=30)
            fail("/api/info answered without a model")
        except urllib.error.HTTPError as e:
            body = json.loads(e.read().decode())
            if e.code != 404 or "--model" not in body.get("error", ""):
                fail("/api/info under --run: %d %r" % (e.code, body))
        check_page(driver, run, out, "serve-run", False, url)
        before = data_rows(run)
        append_rows(run, 5)
        deadline = time.time() + 30
        points = 0
        while time.time() < deadline:
            time.sleep(0.5)
            try:
                line = driver.find_element("css selector", "polyline.series[data-series='D (loss_d)']")
                points = len(line.get_attribute("points").split())
            except Exception:  # the page is reloading
                continue
            if points == before + 5:
                break
        if points != before + 5:
            fail("the served page did not reload with the new rows: %d points, expected %d" % (points, before + 5))
        print("serve --run: %s reloaded itself and shows %d rows after 5 were appended" % (url, points))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            status = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            fail("alae serve --run did not stop on SIGTERM")
    if status != 0:
        fail("alae serve --run ended with status %d on SIGTERM: %s" % (status, proc.stderr.read()))


def main(alae, make_idx, work):
    try:
        driver = browser.start_browser()
    except browser.BrowserMissing as e:
        browser.skip("test_report_page: %s" % e)
    try:
        run = train(alae, make_idx, work)
        out = browser.output_dir("report_page")
        if check_page(driver, run, out, "report-mnist-fc", False) < 2 + 2 * 2:
            fail("the real run's report lacks the latest grids or the progress pairs")
        metrics = driver.find_element("css selector", "table.metrics").text
        if "psnr" not in metrics or "19.1" not in metrics:
            fail("the metrics of eval.json are missing: %r" % metrics)
        style = style_run(work)
        subprocess.run([alae, "report", "--run", style], check=True, stdout=subprocess.DEVNULL)
        check_page(driver, style, out, "report-style-levels", True)
        check_served(driver, alae, run, out)
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
