"""The page of alae serve in headless Chromium (tests/browser/browser.py): load it, upload an
image, check that it is encoded and reconstructed, move a slider, check that the result picture
changed, and save a screenshot under the test's output folder. Skipped (exit 77) when chromium,
chromium-driver or python3-selenium is missing.

    test_serve_page.py ALAE MAKE_MODELS WORKDIR [--sanitized]
    test_serve_page.py --shots ALAE MODEL OUT.png [--upload IMAGE] [alae serve options]
        (the docs' screenshots: a model of your own; prints the latency of slider moves)
"""
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "browser"))
import browser  # noqa: E402
from serve_util import Server, png_size  # noqa: E402

# The result picture's pixels as a string (drawn into a canvas), or "" before it loads.
PIXELS_JS = """
const img = document.getElementById(arguments[0]);
if (!img.complete || !img.naturalWidth) return "";
const c = document.createElement("canvas");
c.width = img.naturalWidth; c.height = img.naturalHeight;
const g = c.getContext("2d"); g.drawImage(img, 0, 0);
return Array.from(g.getImageData(0, 0, c.width, c.height).data).join(",");
"""


def wait_for(what, fn, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def open_page(driver, port):
    driver.get("http://127.0.0.1:%d/" % port)
    wait_for("the first random sample", lambda: driver.execute_script(PIXELS_JS, "result-img"))
    assert "alae serve" in driver.title


def upload(driver, path):
    before = driver.find_element("id", "recon-img").get_attribute("src")
    driver.find_element("id", "file").send_keys(path)
    wait_for("the encoded image", lambda: (driver.find_element("id", "input-img").get_attribute("src") or "")
             .startswith("data:image/png"))
    wait_for("the reconstruction", lambda: driver.find_element("id", "recon-img").get_attribute("src") != before)
    wait_for("the PSNR", lambda: "PSNR" in driver.find_element("id", "psnr").text)
    wait_for("the result", lambda: not driver.execute_script("return state.busy"))


def move_slider(driver, index, value):
    """Sets slider `index` as a drag would (input events) and waits for the re-decoded result;
    returns (the result's pixels, the page's own latency text)."""
    sliders = driver.find_elements("css selector", "#sliders input")
    assert len(sliders) > index, "%d sliders" % len(sliders)
    driver.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'));",
                          sliders[index], value)
    wait_for("the re-decode", lambda: not driver.execute_script("return state.busy || state.again"))
    wait_for("the result picture", lambda: driver.execute_script(PIXELS_JS, "result-img"))
    return driver.execute_script(PIXELS_JS, "result-img"), driver.find_element("id", "latency").text


def test(alae, make_models, work):
    shutil.rmtree(work, ignore_errors=True)
    models = os.path.join(work, "models")
    os.makedirs(models)
    subprocess.run([make_models, models], check=True, timeout=300)
    try:
        driver = browser.start_browser()
    except browser.BrowserMissing as e:
        browser.skip("serve_page: %s" % e)
    try:
        mlp_page(driver, alae, work, models)
        style_page(driver, alae, work, models)
    finally:
        driver.quit()


def mlp_page(driver, alae, work, models):
    """The MLP: load, upload, move a slider (the picture changes, and comes back at 0), screenshot."""
    s = Server(alae, work, ["--model", models + "/mlp.safetensors", "--workers", "2", "--threads", "1"], name="page")
    try:
        image = os.path.join(work, "upload.png")
        status, _, png = s.request("POST", "/api/generate", {"seed": 21})
        assert status == 200 and png_size(png) == (28, 28)
        with open(image, "wb") as f:
            f.write(png)
        open_page(driver, s.port)
        upload(driver, image)
        before = driver.execute_script(PIXELS_JS, "result-img")
        after, latency = move_slider(driver, 0, 2.5)
        assert after != before, "moving the slider did not change the picture"
        assert latency.endswith(" ms"), latency
        back, _ = move_slider(driver, 0, 0)
        assert back == before, "the slider back at 0 gives the reconstruction again"
        assert driver.find_element("id", "status").text == "", driver.find_element("id", "status").text
        shot = os.path.join(browser.output_dir("serve_page"), "serve_page.png")
        driver.save_screenshot(shot)
        assert os.path.getsize(shot) > 1000, "screenshot %s" % shot
        print("serve_page: page loaded, image uploaded, slider moved (%s), screenshot %s" % (latency, shot))
    finally:
        rc = s.stop()
    assert rc == 0, "server stop: %d %s" % (rc, s.stderr())


def style_page(driver, alae, work, models):
    """StyleALAE with --directions: the sliders are the directions; truncation, interpolation and
    mixing fill their pictures."""
    s = Server(alae, work, ["--model", models + "/style.safetensors", "--directions", models + "/dirs.safetensors",
                            "--workers", "1", "--threads", "1"], name="page-style")
    try:
        open_page(driver, s.port)
        names = [e.get_attribute("data-name") for e in driver.find_elements("css selector", "#sliders input")]
        assert names == ["slant", "thick"], names
        assert driver.find_element("id", "sliders-title").text.lower() == "directions"
        before = driver.execute_script(PIXELS_JS, "result-img")
        driver.execute_script("const t = document.getElementById('truncation'); t.value = 0.3;"
                              "t.dispatchEvent(new Event('input'));")
        wait_for("the truncated result", lambda: not driver.execute_script("return state.busy || state.again") and
                 driver.execute_script(PIXELS_JS, "result-img") not in ("", before))
        fill_mixing(driver)
        for image in ("interp-img", "mix-img"):
            assert driver.execute_script(PIXELS_JS, image), image + " is empty"
        assert driver.find_element("id", "status").text == "", driver.find_element("id", "status").text
        driver.save_screenshot(os.path.join(browser.output_dir("serve_page"), "serve_page_style.png"))
        print("serve_page: StyleALAE page: directions, truncation, interpolation and mixing work")
    finally:
        rc = s.stop()
    assert rc == 0, "server stop: %d %s" % (rc, s.stderr())


def click_and_wait(driver, button, image):
    before = driver.find_element("id", image).get_attribute("src")
    driver.find_element("id", button).click()
    wait_for(image, lambda: driver.find_element("id", image).get_attribute("src") != before)


def fill_mixing(driver):
    """Two random samples into A and B, then their interpolation (and mix, for StyleALAE)."""
    for slot, seed in (("a", 3), ("b", 8)):
        driver.find_element("id", "seed").clear()
        driver.find_element("id", "seed").send_keys(str(seed))
        click_and_wait(driver, "random", "recon-img")
        wait_for("the result", lambda: not driver.execute_script("return state.busy || state.again"))
        click_and_wait(driver, "set-" + slot, "slot-" + slot)
    click_and_wait(driver, "interpolate", "interp-img")
    if driver.execute_script("return state.info.arch") == "style":
        click_and_wait(driver, "mix", "mix-img")


def shots(alae, model, out, extra):
    """A screenshot of the page for the docs, and the median latency of 20 slider moves."""
    upload_path = None
    if "--upload" in extra:
        i = extra.index("--upload")
        upload_path = os.path.abspath(extra[i + 1])
        del extra[i:i + 2]
    driver = browser.start_browser(1280, 820)
    args = ["--model", model] + extra
    s = Server(alae, os.path.dirname(os.path.abspath(out)), args, name="shots")
    try:
        open_page(driver, s.port)
        times = []  # as the page measures them: from the request to the decoded PNG
        for i in range(20):
            times.append(float(move_slider(driver, i % 3, (-1.5 + 0.15 * i))[1].split()[0]))
        times.sort()
        print("slider move in the page: median %.0f ms, min %.0f ms, max %.0f ms over %d moves (%s)"
              % (times[len(times) // 2], times[0], times[-1], len(times), os.path.basename(model)))
        fill_mixing(driver)
        if upload_path:
            upload(driver, upload_path)
            driver.find_element("id", "invert").click()
            wait_for("the inversion", lambda: "after" in driver.find_element("id", "psnr").text)
            wait_for("the result", lambda: not driver.execute_script("return state.busy || state.again"))
        move_slider(driver, 0, 1.2)
        driver.save_screenshot(out)
    finally:
        driver.quit()
        s.stop()


if __name__ == "__main__":
    if sys.argv[1] == "--shots":
        shots(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    else:
        test(*sys.argv[1:4])
