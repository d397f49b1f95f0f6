"""Headless Chromium for the page tests (Debian's chromium, chromium-driver, python3-selenium).

start_browser() returns a selenium WebDriver, or raises BrowserMissing with what is missing, so
that a test can print a visible SKIP line and exit with ctest's skip code (77).
"""
import os
import shutil
import sys

SKIP_CODE = 77


class BrowserMissing(Exception):
    pass


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def start_browser(width=1280, height=900):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as e:
        raise BrowserMissing("python3-selenium is not installed (%s)" % e)
    binary = find_chromium()
    driver_path = shutil.which("chromedriver")
    if not binary:
        raise BrowserMissing("chromium is not installed")
    if not driver_path:
        raise BrowserMissing("chromium-driver (chromedriver) is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=%d,%d" % (width, height)):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver_path), options=options)


def skip(reason):
    """Prints a visible skip line and exits with ctest's skip code."""
    print("SKIPPED: %s" % reason, flush=True)
    sys.exit(SKIP_CODE)


def output_dir(test_name):
    """Where a test writes its screenshots: $ALAE_TEST_OUTPUT or ./test-output/<test>."""
    base = os.environ.get("ALAE_TEST_OUTPUT", os.path.join(os.getcwd(), "test-output"))
    path = os.path.join(base, test_name)
    os.makedirs(path, exist_ok=True)
    return path
