"""Drives headless Chromium against pared's page through a proxy that caps
request bodies at 10 MiB: a 100 MiB file goes up in 8 MiB parts (the IETF
resumable-upload draft), and when the test cuts the network (it restarts
the proxy) the page resumes from the server's offset by itself.

Usage: resumable.py PAGE_URL ROOT_DIR
Prints "ok" on success; any failure raises.
"""
import os
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

URL, ROOT = sys.argv[1], sys.argv[2]

o = webdriver.ChromeOptions()
o.binary_location = "/usr/bin/chromium"
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--no-first-run", "--user-data-dir=" + tempfile.mkdtemp()]:
    o.add_argument(a)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
d.set_page_load_timeout(20)
try:
    src_dir = tempfile.mkdtemp()
    src = os.path.join(src_dir, "big.iso")
    data = os.urandom(100 * 1024 * 1024)
    with open(src, "wb") as f:
        f.write(data)
    d.get(URL)
    d.find_element(By.ID, "files").send_keys(src)
    dst = os.path.join(ROOT, "big.iso")
    end = time.time() + 240
    while time.time() < end:
        if os.path.exists(dst) and os.path.getsize(dst) == len(data):
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the upload never finished: " + d.find_element(By.ID, "progress").text)
    with open(dst, "rb") as f:
        assert f.read() == data, "stored bytes differ"
    end = time.time() + 20
    while time.time() < end:
        text = d.find_element(By.ID, "progress").text
        if "big.iso: 201" in text:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the page did not report the outcome: " + text)
    print("ok")
finally:
    d.quit()
