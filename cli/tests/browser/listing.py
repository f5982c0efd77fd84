"""Drives headless Chromium (Debian's chromium and chromium-driver) against
a running pared: the directory page renders without console errors, links
go into folders and back, sorting works with JavaScript on and off, an
upload through the file input stores the file byte-exact and its outcome
stays visible, the delete button removes a file, New folder (MKCOL),
Rename and Move (MOVE) work, the breadcrumb links lead back, deleting a
folder says how many entries go with it, times are local with UTC in a
title, a hostile file name stays inert text, and with --read-only none of
the controls appear.

Usage: listing.py WRITABLE_URL READONLY_URL ROOT_DIR [SCREENSHOT.png]
Prints "ok" on success; any failure raises.
"""
import os
import sys
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

WRITABLE, READONLY, ROOT = sys.argv[1], sys.argv[2], sys.argv[3]
SHOT = sys.argv[4] if len(sys.argv) > 4 else None


def browser(js=True):
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--no-first-run", "--window-size=1000,700",
              "--user-data-dir=" + tempfile.mkdtemp()]:
        o.add_argument(a)
    if not js:
        o.add_argument("--blink-settings=scriptEnabled=false")
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
    d.set_page_load_timeout(20)
    return d


def names(d):
    # Read in one script: the table may be replaced between two calls.
    return d.execute_script(
        "return Array.from(document.querySelectorAll('td.n a')).map(function(a){return a.textContent;});")


def severe(d):
    return [e for e in d.get_log("browser") if e["level"] == "SEVERE"]


def wait_for(cond, what, secs=10):
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def alert_open(d):
    try:
        d.switch_to.alert
        return True
    except NoAlertPresentException:
        return False


def no_alert(d):
    try:
        d.switch_to.alert
        raise AssertionError("an alert opened: script ran")
    except NoAlertPresentException:
        pass


d = browser()
try:
    d.get(WRITABLE)
    assert d.find_element(By.TAG_NAME, "table"), "no table"
    assert not severe(d), severe(d)
    no_alert(d)
    shown = names(d)
    evil = "<img src=x onerror=alert(1)>.txt"
    assert evil in shown, shown
    if SHOT:
        d.save_screenshot(SHOT)
    # Into a folder and back up.
    d.find_element(By.LINK_TEXT, "list/").click()
    wait_for(lambda: d.current_url.endswith("/list/"), "the folder")
    assert "b.txt" in names(d), names(d)
    d.find_element(By.LINK_TEXT, "../").click()
    wait_for(lambda: d.current_url == WRITABLE, "the parent")
    # Sorting by size, descending, then ascending.
    d.find_element(By.LINK_TEXT, "Size").click()
    wait_for(lambda: "sort=size" in d.current_url, "sorted by size")
    asc = names(d)
    d.find_element(By.PARTIAL_LINK_TEXT, "Size").click()
    wait_for(lambda: "order=desc" in d.current_url, "descending")
    desc = names(d)
    files_asc = [n for n in asc if not n.endswith("/")]
    files_desc = [n for n in desc if not n.endswith("/")]
    assert files_asc == list(reversed(files_desc)), (files_asc, files_desc)
    assert files_desc[0] == "big.bin", files_desc
    # Upload through the file input: stored byte-exact.
    d.get(WRITABLE)
    src = os.path.join(tempfile.mkdtemp(), "uploaded.bin")
    data = os.urandom(300_000)
    with open(src, "wb") as f:
        f.write(data)
    d.find_element(By.ID, "files").send_keys(src)
    dst = os.path.join(ROOT, "uploaded.bin")
    wait_for(lambda: os.path.exists(dst) and open(dst, "rb").read() == data, "the upload")
    wait_for(lambda: "uploaded.bin" in names(d), "the table to refresh")
    assert not severe(d), severe(d)
    # The delete button, confirmed.
    victim = os.path.join(ROOT, "delete-me.txt")
    with open(victim, "w") as f:
        f.write("bye")
    d.get(WRITABLE)
    d.find_element(By.CSS_SELECTOR, 'button.del[data-label="delete-me.txt"]').click()
    d.switch_to.alert.accept()
    wait_for(lambda: not os.path.exists(victim), "the delete")

    # The outcome of an upload stays on the page after the table refreshes.
    d.get(WRITABLE)
    src2 = os.path.join(tempfile.mkdtemp(), "kept.txt")
    with open(src2, "w") as f:
        f.write("kept")
    d.find_element(By.ID, "files").send_keys(src2)
    wait_for(lambda: "kept.txt" in names(d), "the refreshed table")
    outcomes = [li.text for li in d.find_elements(By.CSS_SELECTOR, "#progress li.ok")]
    assert any("kept.txt: 201" in o for o in outcomes), outcomes

    # Times are local, with UTC in the title.
    t = d.find_element(By.CSS_SELECTOR, "td.t time")
    assert t.get_attribute("title").endswith(" UTC"), t.get_attribute("title")
    assert "T" not in t.text, t.text

    def answer(text=None):
        wait_for(lambda: alert_open(d), "a dialog")
        a = d.switch_to.alert
        if text is not None:
            a.send_keys(text)
        msg = a.text
        a.accept()
        return msg

    # New folder, through MKCOL.
    d.find_element(By.ID, "mkdir").click()
    answer("made by page")
    wait_for(lambda: os.path.isdir(os.path.join(ROOT, "made by page")), "the new folder")
    wait_for(lambda: "made by page/" in names(d), "the folder in the table")
    # Rename a file, through MOVE.
    with open(os.path.join(ROOT, "old name.txt"), "w") as f:
        f.write("renamed")
    d.get(WRITABLE)
    d.find_element(By.CSS_SELECTOR, 'button.ren[data-label="old name.txt"]').click()
    answer("new name.txt")
    wait_for(lambda: os.path.exists(os.path.join(ROOT, "new name.txt")), "the rename")
    assert not os.path.exists(os.path.join(ROOT, "old name.txt"))
    # Move it into the new folder.
    d.get(WRITABLE)
    d.find_element(By.CSS_SELECTOR, 'button.mv[data-label="new name.txt"]').click()
    answer("/made by page/")
    moved = os.path.join(ROOT, "made by page", "new name.txt")
    wait_for(lambda: os.path.exists(moved), "the move")
    with open(moved) as f:
        assert f.read() == "renamed"
    # Into the folder, and back by the breadcrumb.
    d.get(WRITABLE)
    d.find_element(By.LINK_TEXT, "made by page/").click()
    wait_for(lambda: d.current_url.endswith("/made%20by%20page/"), "the folder")
    assert "new name.txt" in names(d), names(d)
    crumbs = d.find_elements(By.CSS_SELECTOR, "nav.crumbs a")
    assert [c.text for c in crumbs] == ["/", "made by page/"], [c.text for c in crumbs]
    crumbs[0].click()
    wait_for(lambda: d.current_url == WRITABLE, "the root by the breadcrumb")
    # Delete the folder: the confirmation says what goes with it.
    os.makedirs(os.path.join(ROOT, "made by page", "inner"))
    d.get(WRITABLE)
    d.find_element(By.CSS_SELECTOR, 'button.del[data-label="made by page"]').click()
    msg = answer()
    assert "made by page" in msg and "2 entries" in msg, msg
    wait_for(lambda: not os.path.exists(os.path.join(ROOT, "made by page")), "the folder delete")
    assert not severe(d), severe(d)

    # A served HTML file runs sandboxed: its script cannot act as the site.
    victim = os.path.join(ROOT, "victim.txt")
    with open(victim, "w") as f:
        f.write("still here")
    with open(os.path.join(ROOT, "attack.html"), "w") as f:
        f.write("<!DOCTYPE html><title>attack</title><script>"
                "fetch('/victim.txt',{method:'DELETE'}).then(function(r){document.title='deleted '+r.status;})"
                ".catch(function(){document.title='blocked';});"
                "var x=new XMLHttpRequest();x.open('PUT','/planted.txt');x.send('x');"
                "</script>")
    d.get(WRITABLE + "attack.html")
    wait_for(lambda: d.title in ("blocked",) or d.title.startswith("deleted"), "the attack to finish")
    time.sleep(0.5)
    assert d.title == "blocked", d.title
    assert os.path.exists(victim)
    assert not os.path.exists(os.path.join(ROOT, "planted.txt"))
finally:
    d.quit()

# JavaScript off: the page and its sorting work the same.
d = browser(js=False)
try:
    d.get(WRITABLE + "?sort=size&order=desc")
    files = [n for n in names(d) if not n.endswith("/")]
    assert files[0] == "big.bin", files
    d.find_element(By.PARTIAL_LINK_TEXT, "Name").click()
    wait_for(lambda: "sort=name" in d.current_url, "sorted by name")
finally:
    d.quit()

# --read-only: no upload input, no buttons; only the local-time script.
d = browser()
try:
    d.get(READONLY)
    assert not d.find_elements(By.ID, "files")
    # The one button is the search box's.
    buttons = d.find_elements(By.TAG_NAME, "button")
    assert [b.get_attribute("type") for b in buttons] == ["submit"], buttons
    scripts = d.find_elements(By.TAG_NAME, "script")
    assert len(scripts) == 1, len(scripts)
    t = d.find_element(By.CSS_SELECTOR, "td.t time")
    assert t.get_attribute("title").endswith(" UTC"), t.get_attribute("title")
    assert not severe(d), severe(d)
    # Search from the box (the policy lets the form go to this server).
    names = [a.text.rstrip("/") for a in d.find_elements(By.CSS_SELECTOR, "td.n a")]
    name = next(n for n in names if n and n != "..")
    box = d.find_element(By.NAME, "q")
    box.send_keys(name)
    box.submit()
    wait_for(lambda: "q=" in d.current_url, "the search ran")
    found = [a.text for a in d.find_elements(By.CSS_SELECTOR, "td.n a")]
    assert any(name in f for f in found), (name, found)
    assert d.find_element(By.NAME, "q").get_attribute("value") == name.lower()
    assert not severe(d), severe(d)
finally:
    d.quit()
print("ok")
