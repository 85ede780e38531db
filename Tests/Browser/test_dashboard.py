"""The dashboard in a real browser: headless Chromium driven by Selenium, against a running gateway
with workers and the cluster simulator behind it.

Environment:
  STOREFLEET_URL    the gateway, e.g. http://127.0.0.1:8080 (required)
  STOREFLEET_TOKEN  an admin API token, sfk_... (required)
  CHROMIUM_BIN      default /usr/bin/chromium
  CHROMEDRIVER      default /usr/bin/chromedriver
  SCREENSHOT_DIR    default <repo>/.build/screenshots

The tests run in file order and share one browser: sign in, validation, create a WooCommerce store and
watch it reach Ready, a name the server rejects, the detail view, credentials, delete, activity, the
phone layout, sign out. Each stage saves a screenshot <nn>-<stage>.png so a person can look at them.
Nothing is skipped: without the environment the tests fail and say what is missing.
"""

import json
import os
import re
import secrets
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR") or REPO / ".build" / "screenshots")
READY_TIMEOUT = 90
DELETE_TIMEOUT = 90

# Recorded before any page script runs (CDP-injected, so the page's CSP does not apply to it).
PROBE = """
window.__sfProbe = { rejections: [], errors: [] };
window.addEventListener('unhandledrejection', (e) => {
  window.__sfProbe.rejections.push(String(e.reason && (e.reason.stack || e.reason.message) || e.reason));
});
window.addEventListener('error', (e) => { window.__sfProbe.errors.push(String(e.message)); });
"""

# Refusals the flow provokes on purpose; Chrome logs every 4xx response as a console error.
EXPECTED_NETWORK = re.compile(r"Failed to load resource: the server responded with a status of (401|409|422)")

state = {}


def env():
    url = os.environ.get("STOREFLEET_URL", "").rstrip("/")
    token = os.environ.get("STOREFLEET_TOKEN", "")
    missing = [name for name, value in (("STOREFLEET_URL", url), ("STOREFLEET_TOKEN", token)) if not value]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not set: run the browser test through scripts/browser-test.sh, or start a "
            "gateway, a worker and kube-sim and export STOREFLEET_URL=http://127.0.0.1:PORT and "
            "STOREFLEET_TOKEN=<an admin sfk_ token>",
            pytrace=False,
        )
    if not token.startswith("sfk_"):
        pytest.fail("STOREFLEET_TOKEN must be a Storefleet API token (sfk_...)", pytrace=False)
    return url, token


def api(method, path, body=None):
    """Calls the gateway directly (set-up checks and clean-up only; the flow itself goes through the UI)."""
    url, token = env()
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method, headers={"Authorization": f"Bearer {token}"})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture(scope="module")
def driver():
    url, _ = env()
    status, _ = api("GET", "/api/me")
    assert status == 200, f"GET {url}/api/me with STOREFLEET_TOKEN answered {status}: is the gateway running, and is the token valid?"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                     "--disable-gpu", "--no-first-run", "--disable-extensions", "--lang=en-US"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    browser = webdriver.Chrome(options=options, service=service)
    browser.set_window_size(1280, 900)
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
    yield browser
    # Whatever the flow left behind (a failure half-way) is deleted through the API.
    store = state.get("store_id")
    if store and not state.get("deleted"):
        api("DELETE", f"/api/stores/{store}")
    browser.quit()


@pytest.fixture(autouse=True)
def clean_console(driver):
    """After each test: no severe console message (bar the refusals provoked on purpose), no uncaught
    error and no unhandled promise rejection in the page."""
    yield
    logs = driver.get_log("browser")
    severe = [entry["message"] for entry in logs if entry["level"] == "SEVERE" and not EXPECTED_NETWORK.search(entry["message"])]
    probe = driver.execute_script("return window.__sfProbe || {rejections: [], errors: []}")
    assert not severe, f"severe console messages: {severe}"
    assert not probe["rejections"], f"unhandled promise rejections: {probe['rejections']}"
    assert not probe["errors"], f"uncaught errors: {probe['errors']}"


counter = {"n": 0}


def shot(driver, stage):
    counter["n"] += 1
    path = SCREENSHOTS / f"{counter['n']:02d}-{stage}.png"
    driver.save_screenshot(str(path))
    return path


def wait(driver, seconds=10):
    # Live updates redraw parts of the page while a condition looks at them: look again.
    return WebDriverWait(driver, seconds, poll_frequency=0.2,
                         ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))


def heading(driver):
    return driver.find_element(By.CSS_SELECTOR, "main h1").text


def wait_heading(driver, text, seconds=10):
    wait(driver, seconds).until(lambda d: d.find_element(By.CSS_SELECTOR, "main h1").text == text,
                                f"the view heading never became {text!r}")


def click_nav(driver, name):
    driver.find_element(By.CSS_SELECTOR, f'nav a[data-nav="{name}"]').click()


def session_token(driver):
    return driver.execute_script("return sessionStorage.getItem('storefleet.token')")


# --- the flow ----------------------------------------------------------------------------------------


def test_sign_in(driver):
    url, token = env()
    driver.get(url + "/")
    wait_heading(driver, "Sign in")
    assert driver.title.startswith("Sign in")
    shot(driver, "sign-in")

    field = driver.find_element(By.ID, "token")
    assert driver.find_element(By.CSS_SELECTOR, 'label[for="token"]').text == "API token"
    field.send_keys("sfk_" + "x" * 40 + Keys.ENTER)
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "token-error"), "not accepted"))
    assert session_token(driver) is None
    shot(driver, "sign-in-rejected")

    field.clear()
    field.send_keys(token + Keys.ENTER)
    wait_heading(driver, "Stores")
    assert session_token(driver) == token
    assert driver.title.startswith("Stores")
    assert driver.current_url.endswith("#/stores")
    # The live feed connects (or falls back to polling); the header says which.
    wait(driver, 15).until(lambda d: d.find_element(By.ID, "connection").get_attribute("data-state") in ("live", "down"))
    _, me = api("GET", "/api/me")
    banner = driver.find_element(By.ID, "simulated-banner")
    assert banner.is_displayed() == bool(me["simulated_cluster"])
    if me["simulated_cluster"]:
        assert "Stores are simulated (kube-sim): they serve no traffic" in banner.text
    assert me["tenant"]["name"] in driver.find_element(By.ID, "who").text
    wait(driver).until(lambda d: "Loading" not in d.find_element(By.CSS_SELECTOR, "main [role=status]").text)
    shot(driver, "store-list")


def test_name_validation(driver):
    click_nav(driver, "new")
    wait_heading(driver, "Create a store")
    name = driver.find_element(By.ID, "store-name")
    assert driver.switch_to.active_element == driver.find_element(By.CSS_SELECTOR, "main h1")
    name.send_keys("Bad_Name")
    error = driver.find_element(By.ID, "store-name-error")
    wait(driver).until(lambda d: error.text == "Name must start with a lowercase letter.")
    assert name.get_attribute("aria-invalid") == "true"
    assert "store-name-error" in name.get_attribute("aria-describedby")
    shot(driver, "name-invalid")

    for value, message in (("ab", "Name must be 3 to 40 characters."), ("shop_1", "Name may contain only lowercase letters, digits and '-'."),
                           ("shop-", "Name must not end with '-'."), ("admin", "Name is reserved.")):
        name.clear()
        name.send_keys(value)
        driver.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]").click()
        wait(driver).until(lambda d: error.text == message, f"{value!r} should show {message!r}, shows {error.text!r}")
        assert driver.switch_to.active_element == name
    name.clear()
    name.send_keys("good-name")
    wait(driver).until(lambda d: error.text == "")
    assert name.get_attribute("aria-invalid") is None
    name.clear()


def test_create_woocommerce_store_until_ready(driver):
    store_name = f"ui-{int(time.time()) % 10**7:x}-{secrets.token_hex(2)}"
    state["name"] = store_name
    wait_heading(driver, "Create a store")
    driver.find_element(By.ID, "store-name").send_keys(store_name)
    driver.find_element(By.CSS_SELECTOR, 'label[for="engine-woocommerce"]').click()
    assert driver.find_element(By.ID, "engine-woocommerce").is_selected()
    driver.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]").click()

    wait(driver).until(EC.visibility_of_element_located((By.ID, "create-progress")))
    assert driver.find_element(By.ID, "progress-title").text == f"Creating {store_name}"
    wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#create-timeline progress")))
    shot(driver, "create-progress")

    try:
        wait(driver, READY_TIMEOUT).until(
            lambda d: d.find_element(By.ID, "created-store-status").get_attribute("data-status") in ("ready", "failed"))
    except TimeoutException:
        shot(driver, "create-timeout")
        raise AssertionError(f"store {store_name} did not reach Ready within {READY_TIMEOUT} s")
    assert driver.find_element(By.ID, "created-store-status").get_attribute("data-status") == "ready", \
        f"store {store_name} failed: {driver.find_element(By.ID, 'create-timeline').text}"
    link = wait(driver).until(EC.element_to_be_clickable((By.ID, "open-created-store")))
    wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, "#create-timeline progress").get_attribute("value") == "100")
    steps = driver.find_elements(By.CSS_SELECTOR, "#create-timeline li.step")
    assert [s.get_attribute("data-step") for s in steps] == ["namespace", "guardrails", "secrets", "release", "readiness", "finalize"]
    assert all(s.get_attribute("data-status") == "succeeded" for s in steps)
    assert "All 6 steps done" in driver.find_element(By.ID, "create-timeline").text
    assert "Ready" in driver.find_element(By.ID, "created-store-status").text
    shot(driver, "create-ready")

    link.click()
    wait_heading(driver, store_name)
    state["store_id"] = driver.current_url.rsplit("/", 1)[-1]
    assert re.fullmatch(r"[0-9a-f-]{36}", state["store_id"])


def test_server_rejects_a_taken_name(driver):
    # The name passes every client-side rule, but a live store already has it: the server says so.
    click_nav(driver, "new")
    wait_heading(driver, "Create a store")
    driver.find_element(By.ID, "store-name").send_keys(state["name"])
    assert driver.find_element(By.ID, "store-name-error").text == ""
    driver.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]").click()
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "store-name-error"), "Name is already taken by a live store"))
    shot(driver, "name-taken")
    # The back button returns to the store's page.
    driver.back()
    wait_heading(driver, state["name"])
    assert driver.current_url.endswith(f"#/stores/{state['store_id']}")


def test_store_detail_and_credentials(driver):
    wait(driver).until(lambda d: d.find_element(By.ID, "store-status").get_attribute("data-status") == "ready")
    assert driver.title.startswith(state["name"])
    facts = driver.find_element(By.CSS_SELECTOR, "dl.facts").text
    assert "WooCommerce" in facts and f"store-{state['name']}" in facts
    wait(driver).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#store-timeline li.step")) == 6)
    # The job's steps as a Gantt chart: one bar per attempt, with a text alternative and the numbers.
    gantt = driver.find_element(By.CSS_SELECTOR, "#store-timeline figure.plot-gantt")
    svg = gantt.find_element(By.CSS_SELECTOR, "svg[role=img]")
    title_id, desc_id = svg.get_attribute("aria-labelledby").split()
    assert svg.find_element(By.ID, title_id).get_attribute("textContent") == "Step timeline"
    description = svg.find_element(By.ID, desc_id).get_attribute("textContent")
    assert re.search(r"\d+ attempts over ", description) and "namespace:" in description, description
    bars = gantt.find_elements(By.CSS_SELECTOR, "rect.plot-bar")
    assert len(bars) >= 6 and all(b.get_attribute("data-status") in ("succeeded", "failed") for b in bars)
    assert {b.get_attribute("data-status") for b in bars} >= {"succeeded"}
    assert len(gantt.find_elements(By.CSS_SELECTOR, "details table tbody tr")) == len(bars)
    shot(driver, "store-detail")
    driver.execute_script("arguments[0].scrollIntoView()", gantt)
    shot(driver, "store-gantt")
    driver.execute_script("window.scrollTo(0, 0)")

    button = driver.find_element(By.ID, "reveal-credentials")
    assert button.text == "Reveal credentials" and button.get_attribute("aria-expanded") == "false"
    button.click()
    password = wait(driver, 15).until(EC.visibility_of_element_located((By.ID, "credential-password")))
    assert password.text.strip(), "the password is empty"
    assert driver.find_element(By.ID, "credential-username").text.strip()
    assert "audit log" in driver.find_element(By.ID, "credentials-panel").text
    assert button.get_attribute("aria-expanded") == "true"
    shot(driver, "credentials")
    button.click()
    assert not driver.find_elements(By.ID, "credential-password")


def test_update_and_revisions(driver):
    # A bigger plan and a new application version: a new revision, applied by its update job.
    wait(driver).until(lambda d: d.find_element(By.ID, "update-submit").is_enabled())
    assert "small" in driver.find_element(By.ID, "store-spec").text
    Select(driver.find_element(By.ID, "update-plan")).select_by_value("medium")
    driver.find_element(By.ID, "update-app-version").send_keys("6.8.4-php8.3-apache")
    driver.find_element(By.ID, "update-submit").click()
    wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, 'tr[data-revision="2"]'))
    try:
        wait(driver, READY_TIMEOUT).until(
            lambda d: d.find_element(By.CSS_SELECTOR, 'tr[data-revision="2"]').get_attribute("data-outcome") == "applied"
            and d.find_element(By.ID, "store-status").get_attribute("data-status") == "ready")
    except TimeoutException:
        shot(driver, "update-timeout")
        raise AssertionError("the update was not applied: " + driver.find_element(By.ID, "revisions").text)
    spec = driver.find_element(By.ID, "store-spec").text
    assert "medium" in spec and "6.8.4-php8.3-apache" in spec and "2" in spec, spec
    rows = driver.find_elements(By.CSS_SELECTOR, "#revisions tbody tr")
    assert [r.get_attribute("data-revision") for r in rows] == ["2", "1"]
    assert "Applied" in rows[0].text
    shot(driver, "store-updated")

    # An update with nothing to change is refused in the page, before any request.
    wait(driver).until(EC.element_to_be_clickable((By.ID, "update-submit"))).click()
    try:
        wait(driver).until(EC.text_to_be_present_in_element((By.ID, "update-error"), "Choose another plan"))
    except TimeoutException:
        shot(driver, "update-noop-timeout")
        raise AssertionError("no message for an update that changes nothing: " + driver.find_element(By.ID, "changes-card").text)


def test_suspend_and_resume(driver):
    driver.find_element(By.ID, "suspend-reason").send_keys("closed for inventory")
    driver.find_element(By.ID, "suspend-store").click()
    try:
        wait(driver, READY_TIMEOUT).until(lambda d: d.find_element(By.ID, "store-status").get_attribute("data-status") == "suspended")
    except TimeoutException:
        shot(driver, "suspend-timeout")
        raise AssertionError("the store was not suspended")
    note = driver.find_element(By.ID, "suspension-note").text
    # The dashboard's session is the platform admin's (the bootstrap token).
    assert "Suspended by a platform administrator: closed for inventory" in note, note
    assert not driver.find_element(By.ID, "update-submit").is_enabled(), "a suspended store cannot be updated"
    resume = wait(driver).until(EC.element_to_be_clickable((By.ID, "resume-store")))
    shot(driver, "store-suspended")
    resume.click()
    try:
        wait(driver, READY_TIMEOUT).until(lambda d: d.find_element(By.ID, "store-status").get_attribute("data-status") == "ready")
    except TimeoutException:
        shot(driver, "resume-timeout")
        raise AssertionError("the store did not come back")
    assert not driver.find_element(By.ID, "resume-store").is_displayed()
    shot(driver, "store-resumed")


def test_rollouts(driver):
    # A rollout is started through the API (set-up); the view shows it, its canary wave and the
    # result, live. The store ends on the rolled-out version.
    status, rollout = api("POST", "/api/rollouts", {"target": {"app_version": "6.8.5-php8.3-apache"},
                                                    "selector": {"store_ids": [state["store_id"]]}, "strategy": {"canary": 1}})
    assert status == 202, rollout
    click_nav(driver, "rollouts")
    wait_heading(driver, "Rollouts")
    selector = f'section.rollout[data-rollout="{rollout["id"]}"]'
    try:
        card = wait(driver, READY_TIMEOUT).until(
            lambda d: d.find_element(By.CSS_SELECTOR, selector + '[data-status="completed"]'))
    except TimeoutException:
        shot(driver, "rollout-timeout")
        raise AssertionError("the rollout did not complete: " + driver.find_element(By.ID, "rollouts").text)
    assert "To application 6.8.5-php8.3-apache" in card.text
    waves = card.find_elements(By.CSS_SELECTOR, "li.wave")
    assert len(waves) == 1 and "Canary" in waves[0].text
    bar = waves[0].find_element(By.TAG_NAME, "progress")
    assert bar.get_attribute("value") == bar.get_attribute("max") == "1"
    assert "1 of 1 stores done" == bar.get_attribute("aria-valuetext")
    assert not card.find_elements(By.CSS_SELECTOR, "button[data-action]"), "a completed rollout has nothing to halt, resume or cancel"
    shot(driver, "rollouts")
    driver.execute_script(f"location.hash = '#/stores/{state['store_id']}'")
    wait_heading(driver, state["name"])
    wait(driver).until(lambda d: "6.8.5-php8.3-apache" in d.find_element(By.ID, "store-spec").text)


def test_delete_with_confirmation(driver):
    name = state["name"]
    driver.find_element(By.ID, "delete-store").click()
    dialog = wait(driver).until(EC.visibility_of_element_located((By.ID, "delete-dialog")))
    assert name in driver.find_element(By.ID, "delete-title").text
    confirm = driver.find_element(By.ID, "delete-confirm")
    typed = driver.find_element(By.ID, "delete-confirm-name")
    assert driver.switch_to.active_element == typed
    typed.send_keys(name[:-1])
    assert not confirm.is_enabled(), "delete must wait for the exact store name"
    typed.send_keys(name[-1])
    wait(driver).until(lambda d: confirm.is_enabled())
    assert confirm.text == f"Delete {name}"
    shot(driver, "delete-confirm")
    confirm.click()
    wait(driver).until(EC.invisibility_of_element(dialog))
    try:
        wait(driver, DELETE_TIMEOUT).until(lambda d: d.find_element(By.ID, "store-status").get_attribute("data-status") == "deleted")
    except TimeoutException:
        shot(driver, "delete-timeout")
        raise AssertionError(f"store {name} was not deleted within {DELETE_TIMEOUT} s")
    state["deleted"] = True
    assert "Deleted" in driver.find_element(By.ID, "store-status").text
    assert not driver.find_element(By.ID, "delete-store").is_displayed()
    shot(driver, "deleted")

    click_nav(driver, "stores")
    wait_heading(driver, "Stores")
    wait(driver).until(lambda d: "Loading" not in d.find_element(By.CSS_SELECTOR, "main [role=status]").text)
    assert not driver.find_elements(By.CSS_SELECTOR, f'tr[data-store-id="{state["store_id"]}"]'), "the deleted store is still listed"
    driver.find_element(By.CSS_SELECTOR, 'label[for="show-deleted"], #show-deleted').click()
    row = wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, f'tr[data-store-id="{state["store_id"]}"]')))
    assert row.get_attribute("data-status") == "deleted" and "Deleted" in row.text
    driver.find_element(By.ID, "show-deleted").click()
    wait(driver).until(EC.staleness_of(row))
    shot(driver, "list-after-delete")


def test_activity(driver):
    click_nav(driver, "activity")
    wait_heading(driver, "Activity")
    assert driver.title.startswith("Activity")
    wait(driver).until(lambda d: d.find_elements(By.ID, "stat-workers"))
    assert int(driver.find_element(By.ID, "stat-workers").get_attribute("data-value")) >= 1
    for stat in ("stat-queue-depth", "stat-running", "stat-per-minute"):
        assert driver.find_element(By.ID, stat).get_attribute("data-value").isdigit()
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, 'tr[data-action="store.credentials.view"]'))
    for action in ("store.create", "store.delete"):
        assert driver.find_elements(By.CSS_SELECTOR, f'tr[data-action="{action}"]'), f"no {action} in the audit log"
    # The last hour, plotted: each plot an SVG image with a title, a description and its numbers.
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#plot-jobs-per-minute svg[role=img]"))
    for plot in ("plot-jobs-per-minute", "plot-step-durations", "plot-failures"):
        figure = driver.find_element(By.ID, plot)
        svg = figure.find_element(By.CSS_SELECTOR, "svg[role=img]")
        title_id, desc_id = svg.get_attribute("aria-labelledby").split()
        assert svg.find_element(By.ID, title_id).get_attribute("textContent").strip()
        assert svg.find_element(By.ID, desc_id).get_attribute("textContent").strip()
        assert figure.find_elements(By.CSS_SELECTOR, "details.plot-data")
    # This session created and deleted a store in the last hour: both jobs are in the columns and the
    # description, and the create's steps in the durations.
    described = driver.find_element(By.CSS_SELECTOR, "#plot-jobs-per-minute desc").get_attribute("textContent")
    succeeded = int(re.search(r"(\d+) succeeded", described).group(1))
    assert succeeded >= 2, described
    assert driver.find_elements(By.CSS_SELECTOR, "#plot-jobs-per-minute rect.plot-succeeded")
    steps = driver.find_element(By.CSS_SELECTOR, "#plot-step-durations details table").get_attribute("textContent")
    assert "namespace (create)" in steps and "release (create)" in steps, steps
    # Every step row has its p50 and p95 bars, not only its numbers.
    rows = len(driver.find_elements(By.CSS_SELECTOR, "#plot-step-durations details table tbody tr"))
    for bar in ("rect.plot-p50", "rect.plot-p95"):
        assert len(driver.find_elements(By.CSS_SELECTOR, f"#plot-step-durations {bar}")) == rows, bar
    shot(driver, "activity")
    driver.execute_script("arguments[0].scrollIntoView()", driver.find_element(By.ID, "plots-title"))
    shot(driver, "activity-plots")
    # They update: every 10 s the plots are drawn again from a fresh series.
    old = driver.find_element(By.CSS_SELECTOR, "#plot-jobs-per-minute svg")
    wait(driver, 20).until(EC.staleness_of(old))
    assert driver.find_elements(By.CSS_SELECTOR, "#plot-jobs-per-minute svg[role=img]")


def test_phone_layout(driver):
    driver.set_window_size(390, 844)
    try:
        click_nav(driver, "stores")
        wait_heading(driver, "Stores")
        wait(driver).until(lambda d: "Loading" not in d.find_element(By.CSS_SELECTOR, "main [role=status]").text)
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at 390px wide"
        shot(driver, "phone-stores")
    finally:
        driver.set_window_size(1280, 900)


def test_sign_out(driver):
    driver.find_element(By.ID, "sign-out").click()
    wait_heading(driver, "Sign in")
    assert session_token(driver) is None
    assert "signed out" in driver.find_element(By.CSS_SELECTOR, "main").text
    assert not driver.find_element(By.ID, "nav").is_displayed()
    driver.back()
    time.sleep(0.3)
    assert heading(driver) == "Sign in", "after sign-out, going back must not show signed-in pages"
    shot(driver, "signed-out")
