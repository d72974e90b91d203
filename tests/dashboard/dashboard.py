"""The dashboard in a real headless Chromium (Debian's chromium + chromedriver, through
selenium), against a gateway tests/dashboard.rs started and seeded. Exits 0 when every check
passed; on a failure it prints what and writes a screenshot of the page under SHOTS.

Environment: BASE (http://127.0.0.1:port), KEY (workspace API key), PACED (a RUNNING campaign
at 60/min), QUICK (a COMPLETED one), LIME_NAME (the name of a campaign made over LIME), SHOTS.
"""
import json
import os
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE, KEY, SHOTS = os.environ["BASE"], os.environ["KEY"], os.environ["SHOTS"]
PACED, QUICK, LIME_NAME = os.environ["PACED"], os.environ["QUICK"], os.environ["LIME_NAME"]
WAIT = 10


def rest(method, path):
    req = urllib.request.Request(BASE + "/api/v1" + path, method=method, headers={"X-API-Key": KEY})
    if method == "POST":
        req.data = b"{}"
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=WAIT) as r:
        return json.loads(r.read() or b"null")


def browser(lang="en-US", width=1200):
    opts = webdriver.ChromeOptions()
    opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--lang={lang}",
              f"--window-size={width},900"]:
        opts.add_argument(a)
    opts.add_experimental_option("prefs", {"intl.accept_languages": lang})
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=opts)


def until(driver, what, fn, timeout=WAIT):
    last = [None]

    def probe(_):
        try:
            last[0] = fn()
            return last[0]
        except Exception as e:  # an element not there yet
            last[0] = repr(e)
            return False

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(probe)
    except Exception:
        raise AssertionError(f"{what}: not within {timeout}s (last: {last[0]!r})")


def text(driver, css):
    return driver.find_element(By.CSS_SELECTOR, css).text


def login(driver, key):
    driver.get(BASE + "/ui/")
    field = until(driver, "login page", lambda: driver.find_element(By.ID, "api-key"))
    field.clear()
    field.send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()


def rows(driver):
    return [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#campaign-rows tr")]


def no_overflow(driver, page):
    w = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert w[0] <= w[1], f"{page}: horizontal overflow at {w[1]} px (content {w[0]} px)"


def checks(driver):
    # No key → the login page; a wrong key → a clear message, still on the login page.
    login(driver, "wrong-key")
    msg = until(driver, "wrong-key message", lambda: text(driver, "#login-error"))
    assert "not valid" in msg, msg
    # The right key → the campaigns of both faces.
    login(driver, KEY)
    until(driver, "campaign list", lambda: len(rows(driver)) >= 4)
    names = "\n".join(rows(driver))
    for name in ["Paced", "Quick", "Draft one", LIME_NAME]:
        assert name in names, f"{name} missing from the list: {names}"
    # Filters: status and name search.
    Select(driver.find_element(By.ID, "filter-status")).select_by_value("COMPLETED")
    until(driver, "COMPLETED filter", lambda: all("COMPLETED" in r for r in rows(driver)) and any("Quick" in r for r in rows(driver))
          and not any("Paced" in r for r in rows(driver)))
    Select(driver.find_element(By.ID, "filter-status")).select_by_value("")
    driver.find_element(By.ID, "search").send_keys("Pac")
    until(driver, "name search", lambda: len(rows(driver)) == 1 and "Paced" in rows(driver)[0])

    # The funnel of a finished campaign equals its REST stats.
    driver.get(BASE + f"/ui/#/campaign/{QUICK}")
    s = rest("GET", f"/campaigns/{QUICK}/stats")
    want = {"total": s["total_contacts"], "sent": s["sent"] + s["delivered"] + s["read"],
            "delivered": s["delivered"] + s["read"], "read": s["read"], "failed": s["failed"]}

    def funnel():
        got = {k: int(text(driver, f'#funnel text[data-step="{k}"]').replace(".", "").replace(",", "")) for k in want}
        return got if got == want else False
    until(driver, f"funnel = REST stats {want}", funnel)

    # Retry failed: the failed recipients are sent again (their attempts become 2 in the API
    # and in the page's table); those that did not fail are not touched.
    failed = {m["phone"] for m in rest("GET", f"/campaigns/{QUICK}/messages?status=FAILED&limit=100")["data"]}
    assert failed, "the quick campaign has failures to retry (simulator numbers 0000 and 0001)"
    until(driver, "retry button", lambda: driver.find_element(By.ID, "btn-retry")).click()
    WebDriverWait(driver, WAIT).until(lambda d: d.switch_to.alert).accept()

    def attempts():
        msgs = rest("GET", f"/campaigns/{QUICK}/messages?limit=100")["data"]
        return {m["phone"]: m["attempts"] for m in msgs}
    until(driver, "failed recipients sent again", lambda: all(attempts()[p] == 2 for p in failed))
    assert all(n == 1 for p, n in attempts().items() if p not in failed), attempts()
    until(driver, "attempts shown in the table",
          lambda: sorted(c.text for c in driver.find_elements(By.CSS_SELECTOR, "#message-rows td.attempts")).count("2") == len(failed))

    # Clone: a DRAFT copy named "<name> (cópia)", opened at once.
    until(driver, "clone button", lambda: driver.find_element(By.ID, "btn-clone")).click()
    until(driver, "the copy's page", lambda: "#/campaign/" in driver.current_url and QUICK not in driver.current_url
          and text(driver, "h1") == "Quick (cópia)")
    copy = driver.current_url.rsplit("/", 1)[1]
    until(driver, "DRAFT badge", lambda: text(driver, "#summary .badge") == "DRAFT")
    assert rest("GET", f"/campaigns/{copy}")["status"] == "DRAFT"
    assert driver.find_elements(By.ID, "btn-start") and not driver.find_elements(By.ID, "btn-retry")

    # Live progress without reload (Server-Sent Events), then pause / resume.
    driver.get(BASE + f"/ui/#/campaign/{PACED}")
    first = until(driver, "paced progress", lambda: text(driver, "#progress-text"))
    until(driver, "progress moving without reload", lambda: text(driver, "#progress-text") != first)
    until(driver, "pause button", lambda: driver.find_element(By.ID, "btn-pause")).click()
    until(driver, "PAUSED badge", lambda: text(driver, "#summary .badge") == "PAUSED")
    assert rest("GET", f"/campaigns/{PACED}")["status"] == "PAUSED"
    until(driver, "resume button", lambda: driver.find_element(By.ID, "btn-resume")).click()
    until(driver, "RUNNING badge", lambda: text(driver, "#summary .badge") == "RUNNING")
    assert rest("GET", f"/campaigns/{PACED}")["status"] == "RUNNING"

    # The form: client-side checks and the API's errors beside their fields.
    driver.get(BASE + "/ui/#/new")
    until(driver, "new campaign form", lambda: driver.find_element(By.ID, "create"))
    until(driver, "audience size", lambda: "Audience" in text(driver, "#audience"))
    driver.find_element(By.ID, "create").click()
    until(driver, "name error", lambda: "required" in text(driver, "#f-name-error"))
    driver.find_element(By.ID, "f-name").send_keys("From the form")
    driver.find_element(By.ID, "f-body").send_keys("Oi {{apelido}}")
    driver.find_element(By.ID, "create").click()
    until(driver, "unknown variable error", lambda: "{{apelido}}" in text(driver, "#f-body-error"))
    body = driver.find_element(By.ID, "f-body")
    body.clear()
    body.send_keys("Oi {{nome}}")
    # A past schedule passes the page's checks; the API's 400 names scheduled_at.
    driver.execute_script("document.getElementById('f-schedule').value = '2001-01-01T10:00'")
    driver.find_element(By.ID, "create").click()
    until(driver, "API error beside scheduled_at", lambda: "scheduled_at" in text(driver, "#f-schedule-error"))
    driver.execute_script("document.getElementById('f-schedule').value = ''")
    driver.find_element(By.ID, "create").click()
    until(driver, "created campaign page", lambda: "#/campaign/" in driver.current_url and text(driver, "h1") == "From the form")


def layout(driver):
    login(driver, KEY)
    until(driver, "list at 360 px", lambda: len(rows(driver)) >= 4)
    for page in ["#/campaigns", f"#/campaign/{QUICK}", "#/new", "#/contacts"]:
        driver.get(BASE + "/ui/" + page)
        time.sleep(0.5)  # the page's first fetches
        no_overflow(driver, page)


def pt_br(driver):
    login(driver, KEY)
    until(driver, "list in pt-BR", lambda: len(rows(driver)) >= 1)
    got = driver.execute_script("return fmt.n(1234567.5)")
    assert got == "1.234.567,5", f"pt-BR formatting: {got}"


def run(name, fn, **kw):
    driver = browser(**kw)
    try:
        fn(driver)
        print(f"ok: {name}")
        return True
    except Exception as e:
        os.makedirs(SHOTS, exist_ok=True)
        shot = os.path.join(SHOTS, f"{name}.png")
        driver.save_screenshot(shot)
        print(f"FAILED: {name}: {e}\n  url {driver.current_url}\n  screenshot {shot}", file=sys.stderr)
        return False
    finally:
        driver.quit()


if __name__ == "__main__":
    results = [run("flows", checks), run("layout_360", layout, width=360), run("pt_br", pt_br, lang="pt-BR")]
    sys.exit(0 if all(results) else 1)
